// A sweep: its leaderboard, objective by trial, learning curves with the pruner's rungs, and its parameters against
// the objective, from its store (read-only), refreshed every 3 s.
'use strict';

const sweepId = Z.param('id');
const stateColors = {complete: '#2f6fdf', pruned: '#e0752d', failed: '#c23b6b', running: '#2aa876', queued: '#999'};
const pad = n => String(n).padStart(4, '0');

const axis = (name, extra) => Object.assign({type: 'value', name: name, nameLocation: 'middle', nameGap: 28,
  scale: true, splitLine: {lineStyle: {color: '#eef0f4'}}}, extra || {});

/** A recipe key's last part (learningRate for overrides.updater.learningRate), for narrow axis names. */
const short = key => key.split('.').pop();

function numeric(values) {
  return values.every(v => v !== undefined && v !== null && v !== '' && Number.isFinite(Number(v)));
}

function drawLeaderboard(d) {
  const header = ['rank', 'trial', 'state', d.objective, 'test acc', 'epochs', 'time'].concat(d.keys)
    .concat(['reason', 'files']);
  const right = [0, 1, 3, 4, 5, 6].concat(d.keys.map((k, i) => 7 + i));
  const rows = d.leaderboard.map(t => [
    t.rank,
    t.runId ? Z.el('a', {href: 'run.html?id=' + encodeURIComponent(t.runId), title: t.runDir}, pad(t.number))
      : pad(t.number),
    Z.badge(t.state),
    t.value === null ? '–' : Z.fixed(t.value, 4),
    t.testAccuracy === null ? '–' : Z.fixed(t.testAccuracy, 4),
    t.epochs,
    Z.seconds(t.seconds),
  ].concat(d.keys.map(k => t.params[k] === undefined ? '' : t.params[k])).concat([
    Z.el('span', {class: 'reason', title: t.reason || ''}, t.reason || ''),
    t.runId ? Z.el('span', {class: 'links'},
      Z.el('a', {href: 'run.html?id=' + encodeURIComponent(t.runId), title: t.runDir}, 'run'),
      t.hasRecipe ? Z.el('a', {href: 'api/file?run=' + encodeURIComponent(t.runId) + '&name=recipe.yaml',
        target: '_blank'}, 'recipe.yaml') : null) : '',
  ]));
  const table = Z.fill('leaderboard', Z.table(header, rows, right));
  const best = d.leaderboard.find(t => t.state === 'complete');
  if (best) {
    table.querySelectorAll('tbody tr')[d.leaderboard.indexOf(best)].classList.add('best');
  }
}

function drawObjective(d) {
  const trials = d.leaderboard.slice().sort((a, b) => a.number - b.number);
  const byState = {};
  for (const t of trials) {
    if (t.value !== null) {
      (byState[t.state] = byState[t.state] || []).push([t.number, t.value]);
    }
  }
  const better = (a, b) => d.maximize ? a > b : a < b;
  const bestLine = [];
  let best = null;
  for (const t of trials) {
    if (t.state === 'complete' && t.value !== null && (best === null || better(t.value, best))) {
      best = t.value;
    }
    if (best !== null) {
      bestLine.push([t.number, best]);
    }
  }
  const list = Object.entries(byState).map(([state, data]) => ({name: state, type: 'scatter', data: data,
    symbolSize: 10, itemStyle: {color: stateColors[state] || '#777'}}));
  list.push({name: 'best so far (complete)', type: 'line', step: 'end', data: bestLine, showSymbol: false,
    lineStyle: {width: 2, color: '#1d2a44'}, itemStyle: {color: '#1d2a44'}});
  Z.draw(Z.chart('objective', 'trial-charts', d.objective + ' by trial',
    'each trial\'s best epoch (' + (d.maximize ? 'higher' : 'lower') + ' is better), and the best complete one so far'), {
    legend: {},
    tooltip: {trigger: 'item'},
    xAxis: axis('trial', {minInterval: 1, scale: false, min: -0.5, max: Math.max(1, trials.length) - 0.5,
      axisLabel: {showMinLabel: false, showMaxLabel: false}}),
    yAxis: axis(d.objective, {nameGap: 44}),
    series: list,
  });
}

function drawCurves(d) {
  const states = {};
  d.leaderboard.forEach(t => states[t.number] = t.state);
  const list = Object.entries(d.curves).map(([trial, points], i) => {
    const state = states[trial];
    const data = points.map(p => ({value: p}));
    if (state === 'pruned' && data.length > 0) {
      data[data.length - 1] = {value: points[points.length - 1], symbol: 'diamond', symbolSize: 13};
    }
    return {name: 'trial ' + pad(trial), type: 'line', data: data, showSymbol: true, symbolSize: 6,
      lineStyle: {type: state === 'pruned' ? 'dashed' : 'solid', width: 2}};
  });
  if (list.length > 0 && d.rungs.length > 0) {
    list[0].markLine = {silent: true, symbol: 'none', lineStyle: {type: 'dotted', color: '#b33'},
      label: {formatter: p => 'rung ' + p.value, fontSize: 10},
      data: d.rungs.map(r => ({xAxis: r}))};
  }
  Z.draw(Z.chart('curves', 'trial-charts', 'Learning curves',
    d.objective + ' per epoch; pruned trials dashed, ◆ where pruned' + (d.rungs.length ? ', dotted: the rungs'
      : '')), {
    legend: {type: 'scroll', left: 60},
    tooltip: {trigger: 'item'},
    xAxis: axis('epoch', {minInterval: 1, scale: false, min: 0.75, max: Math.max(2, d.maxEpochs) + 0.25,
      axisLabel: {showMinLabel: false, showMaxLabel: false}}),
    yAxis: axis(d.objective, {nameGap: 44}),
    series: list,
  });
}

function drawParameters(d) {
  const withValue = d.leaderboard.filter(t => t.value !== null);
  d.keys.forEach(key => {
    const values = withValue.map(t => t.params[key]);
    const isNumber = numeric(values);
    const log = d.logKeys.includes(key) && values.every(v => Number(v) > 0);
    const categories = isNumber ? null : Array.from(new Set(values.map(String)));
    const byState = {};
    for (const t of withValue) {
      const x = isNumber ? Number(t.params[key]) : String(t.params[key]);
      (byState[t.state] = byState[t.state] || []).push([x, t.value, t.number]);
    }
    Z.draw(Z.chart('param:' + key, 'param-charts', key + ' against ' + d.objective,
      log ? 'log scale (searched log-uniformly)' : ''), {
      legend: {},
      tooltip: {trigger: 'item', formatter: p => 'trial ' + pad(p.value[2]) + ': ' + key + ' ' + p.value[0] + ', '
        + d.objective + ' ' + Z.fixed(p.value[1], 4)},
      xAxis: isNumber ? axis(key, {type: log ? 'log' : 'value', scale: !log}) : {type: 'category', data: categories,
        name: key, nameLocation: 'middle', nameGap: 28},
      yAxis: axis(d.objective, {nameGap: 44}),
      series: Object.entries(byState).map(([state, data]) => ({name: state, type: 'scatter', data: data,
        symbolSize: 10, itemStyle: {color: stateColors[state] || '#777'}})),
    });
  });

  const dims = d.keys.map((key, i) => {
    const values = withValue.map(t => t.params[key]);
    if (!numeric(values)) {
      return {dim: i, name: short(key), type: 'category', data: Array.from(new Set(values.map(String)))};
    }
    const log = d.logKeys.includes(key) && values.every(v => Number(v) > 0);
    return {dim: i, name: short(key), type: log ? 'log' : 'value', scale: true};
  });
  dims.push({dim: d.keys.length, name: d.objective, type: 'value', scale: true, nameTextStyle: {fontWeight: 600}});
  const rows = withValue.map(t => d.keys.map((k, i) => dims[i].type === 'category' ? String(t.params[k])
    : Number(t.params[k])).concat([t.value]));
  const values = withValue.map(t => t.value);
  Z.draw(Z.chart('parallel', 'param-charts', 'Parallel coordinates',
    'one line per trial with a value, coloured by ' + d.objective), {
    tooltip: {trigger: 'item'},
    parallel: {left: 70, right: 110, top: 88, bottom: 36},
    parallelAxis: dims,
    visualMap: values.length ? {type: 'continuous', dimension: d.keys.length, min: Math.min(...values),
      max: Math.max(...values), inverse: !d.maximize, right: 6, top: 'middle', itemHeight: 120, calculable: false,
      inRange: {color: ['#e8a33d', '#2f6fdf', '#1d2a44']}, text: ['better', 'worse'], textStyle: {fontSize: 10}}
      : undefined,
    series: [{type: 'parallel', name: 'trials', data: rows, lineStyle: {width: 2, opacity: 0.75}}],
  });
}

async function loadSweep() {
  const d = await Z.get('api/sweep?id=' + encodeURIComponent(sweepId));
  document.title = 'zoo4j sweep ' + d.name;
  Z.text('name', 'Sweep ' + d.name);
  Z.text('path', d.path);
  Z.fill('crumbs', 'sweep ' + d.name);
  Z.text('objective', d.objective + (d.maximize ? ' ↑' : ' ↓'));
  Z.text('best', d.best === null ? '–' : Z.fixed(d.best, 4) + ' (trial ' + pad(d.bestTrial) + ')');
  Z.text('trials', String(d.trials));
  Z.text('counts', d.counts.complete + ' / ' + d.counts.pruned + ' / ' + d.counts.failed);
  Z.text('running', d.counts.running + ' / ' + d.counts.queued);
  Z.text('strategy', d.strategy || '–');
  const p = d.pruner;
  Z.text('pruner', p.type + (p.type === 'asha' ? ' (min ' + p.minEpochs + ', ×' + p.reductionFactor + ')'
    : p.type === 'median' ? ' (from epoch ' + p.minEpochs + ')' : ''));
  const defError = document.getElementById('definition-error');
  defError.hidden = !d.definitionError;
  defError.textContent = d.definitionError ? 'sweep.yaml could not be read: ' + d.definitionError : '';
  drawLeaderboard(d);
  drawObjective(d);
  drawCurves(d);
  drawParameters(d);
}

Z.poll(loadSweep, 3000);
