// zoo4j dashboard: what the three pages share. Data is put into the page as text (never as HTML), and every chart is
// registered in window.zoo4jCharts under its name, so that tests (and curious users) can read its data.
'use strict';

const Z = {
  charts: {},
  palette: ['#2f6fdf', '#e0752d', '#2aa876', '#c23b6b', '#7b5cd6', '#b8a21f', '#1f9bb8', '#8c564b', '#e377c2',
    '#7f7f7f', '#17becf', '#bcbd22'],

  param(name) {
    return new URLSearchParams(window.location.search).get(name);
  },

  async get(url) {
    const response = await fetch(url, {cache: 'no-store'});
    if (!response.ok) {
      let message = response.status + ' ' + response.statusText;
      try {
        message = (await response.json()).error || message;
      } catch (e) {
        // not JSON
      }
      throw new Error(message);
    }
    return response.json();
  },

  /** An element with attributes and children (strings become text nodes). */
  el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) {
        continue;
      }
      if (k === 'class') {
        e.className = v;
      } else if (k === 'text') {
        e.textContent = v;
      } else {
        e.setAttribute(k, v);
      }
    }
    for (const c of children.flat(Infinity)) {
      if (c !== null && c !== undefined) {
        e.append(c instanceof Node ? c : document.createTextNode(String(c)));
      }
    }
    return e;
  },

  /** Replaces the children of the element with this id. */
  fill(id, ...children) {
    const target = document.getElementById(id);
    target.replaceChildren(...children.flat(Infinity).filter(c => c !== null && c !== undefined));
    return target;
  },

  text(id, value) {
    document.getElementById(id).textContent = value;
  },

  pct(v) {
    return v === null || v === undefined ? '–' : (100 * v).toFixed(2) + '%';
  },

  fixed(v, digits) {
    return v === null || v === undefined ? '–' : Number(v).toFixed(digits);
  },

  general(v) {
    if (v === null || v === undefined) {
      return '–';
    }
    const a = Math.abs(v);
    return a !== 0 && (a < 1e-3 || a >= 1e5) ? Number(v).toExponential(3) : Number(v).toPrecision(4);
  },

  seconds(s) {
    if (s === null || s === undefined) {
      return '–';
    }
    if (s < 90) {
      return s.toFixed(0) + ' s';
    }
    if (s < 5400) {
      return (s / 60).toFixed(1) + ' min';
    }
    return (s / 3600).toFixed(1) + ' h';
  },

  ago(ms) {
    if (!ms) {
      return '–';
    }
    return Z.seconds(Math.max(0, (Date.now() - ms) / 1000)) + ' ago';
  },

  mib(bytes) {
    return bytes === null || bytes === undefined ? null : bytes / (1024 * 1024);
  },

  badge(status) {
    return Z.el('span', {class: 'badge badge-' + String(status).replace(/[^a-z_]/g, '')}, String(status));
  },

  /** A table from a header and rows of cells (strings, numbers or elements); numeric columns right-aligned. */
  table(header, rows, right) {
    const r = new Set(right || []);
    return Z.el('table', {class: 'grid'},
      Z.el('thead', {}, Z.el('tr', {}, header.map((h, i) => Z.el('th', {class: r.has(i) ? 'num' : null}, h)))),
      Z.el('tbody', {}, rows.map(row => Z.el('tr', {}, row.map((c, i) =>
        Z.el('td', {class: r.has(i) ? 'num' : null}, c === null || c === undefined ? '' : c))))));
  },

  /** The chart called name, made in a new box in the container the first time. */
  chart(name, container, title, subtitle) {
    let chart = Z.charts[name];
    if (!chart) {
      const box = Z.el('div', {class: 'chart-box'});
      const div = Z.el('div', {class: 'chart', 'data-chart': name});
      box.append(div);
      document.getElementById(container).append(box);
      chart = echarts.init(div, null, {renderer: 'canvas'});
      Z.charts[name] = chart;
    }
    chart.zoo4jTitle = {text: title, subtext: subtitle || '', left: 8, top: 4,
      textStyle: {fontSize: 14, fontWeight: 600}, subtextStyle: {fontSize: 11, color: '#666'}};
    return chart;
  },

  /**
   * Sets a chart's whole option (no merging with the last one), with the dashboard's common look: the title and its
   * subtitle at the top, the legend (if any) below them, the plot below the legend.
   */
  draw(chart, option) {
    const o = Object.assign({animation: false, color: Z.palette, title: chart.zoo4jTitle,
      tooltip: {trigger: 'axis', confine: true}}, option);
    if (o.legend) {
      o.legend = Object.assign({top: 42, right: 10, itemHeight: 10, textStyle: {fontSize: 11}}, o.legend);
    }
    if (!o.parallel) {
      o.grid = Object.assign({left: 64, right: 28, top: o.legend ? 80 : 58, bottom: 40}, o.grid || {});
    }
    chart.setOption(o, {notMerge: true});
  },

  /** Runs load() now and again every ms milliseconds after each one ends; shows an error banner while it fails. */
  poll(load, ms) {
    const once = async () => {
      try {
        await load();
        Z.fill('error');
        document.getElementById('error').hidden = true;
      } catch (e) {
        const banner = Z.fill('error', 'Could not load: ' + e.message + ' (retrying)');
        banner.hidden = false;
      }
      window.zoo4jReady = true;
      setTimeout(once, ms);
    };
    once();
  },
};

window.zoo4jCharts = Z.charts;
window.addEventListener('resize', () => Object.values(Z.charts).forEach(c => c.resize()));
