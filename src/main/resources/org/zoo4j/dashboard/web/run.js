// A run: its epochs (metrics.csv, results.json) and, where it recorded them, its steps (stats.jsonl), refreshed
// every 2 s; only the steps the page does not have yet are fetched.
'use strict';

const runId = Z.param('id');
let steps = [];

function addSteps(newer) {
  for (const s of newer) {
    while (steps.length > 0 && steps[steps.length - 1].step >= s.step) {
      steps.pop(); // a resumed run repeats the steps after its checkpoint: the later lines win
    }
    steps.push(s);
  }
}

function lastOf(list) {
  return list.length === 0 ? null : list[list.length - 1];
}

function series(name, data, extra) {
  return Object.assign({name: name, type: 'line', data: data, showSymbol: data.length < 40, symbolSize: 5,
    sampling: 'lttb'}, extra || {});
}

const valueAxis = (name, extra) => Object.assign({type: 'value', name: name, nameLocation: 'middle', nameGap: 40,
  scale: true, splitLine: {lineStyle: {color: '#eef0f4'}}}, extra || {});

function drawEpochs(d) {
  const e = d.epochs;
  const chart = Z.chart('epochs', 'epoch-charts', 'Loss and accuracy per epoch',
    'metrics.csv: training loss (mean over the epoch), validation loss and accuracy; test accuracy of the best model');
  const list = [
    series('train loss', e.map(r => [r.epoch, r.trainLoss])),
    series('validation loss', e.map(r => [r.epoch, r.validationLoss])),
    series('validation accuracy', e.map(r => [r.epoch, r.validationAccuracy === null ? null
      : 100 * r.validationAccuracy]), {yAxisIndex: 1, lineStyle: {width: 3}}),
  ];
  if (d.results && d.results.testAccuracy !== undefined) {
    const at = d.results.bestEpoch || (e.length ? e[e.length - 1].epoch : 1);
    list.push({name: 'test accuracy', type: 'scatter', yAxisIndex: 1, symbol: 'diamond', symbolSize: 14,
      data: [[at, 100 * d.results.testAccuracy]]});
  }
  Z.draw(chart, {
    legend: {},
    grid: {right: 64},
    xAxis: valueAxis('epoch', {minInterval: 1, scale: false, min: 'dataMin', max: 'dataMax', nameGap: 26}),
    yAxis: [valueAxis('loss'), valueAxis('accuracy %', {position: 'right', nameGap: 40})],
    series: list,
  });

  const rate = Z.chart('epoch-rate', 'epoch-charts', 'Learning rate and throughput per epoch',
    'the first layer\'s rate in each epoch (the schedule), and training images per second');
  Z.draw(rate, {
    legend: {},
    grid: {left: 72, right: 80},
    xAxis: valueAxis('epoch', {minInterval: 1, scale: false, min: 'dataMin', max: 'dataMax', nameGap: 26}),
    yAxis: [valueAxis('learning rate', {nameGap: 56}), valueAxis('images/s', {position: 'right', nameGap: 54})],
    series: [
      series('learning rate', e.map(r => [r.epoch, r.learningRate]), {step: 'end'}),
      series('images/s', e.map(r => [r.epoch, r.imagesPerSecond]), {yAxisIndex: 1}),
    ],
  });
}

/** Epoch boundaries: the first recorded step of each epoch after the first. */
function epochMarks() {
  const marks = [];
  for (let i = 1; i < steps.length; i++) {
    if (steps[i].epoch !== steps[i - 1].epoch) {
      marks.push({xAxis: steps[i].step, label: {formatter: 'epoch ' + steps[i].epoch, fontSize: 10}});
    }
  }
  return {silent: true, symbol: 'none', lineStyle: {type: 'dotted', color: '#999'}, data: marks};
}

function layerSeries(key, transform) {
  const names = [];
  const byName = {};
  for (const s of steps) {
    for (const l of s.layers || []) {
      if (!(l.name in byName)) {
        byName[l.name] = [];
        names.push(l.name);
      }
      byName[l.name].push([s.step, transform ? transform(l[key]) : l[key]]);
    }
  }
  return names.map(n => ({name: n, data: byName[n]}));
}

function legendFor(names) {
  const selected = {};
  names.forEach((n, i) => selected[n] = i < 12);
  return {type: 'scroll', left: 60, right: 10, selected: selected};
}

function drawSteps(d) {
  if (steps.length === 0) {
    Z.text('steps-note', d.statsEvery ? '(no step recorded yet)'
      : '(none recorded: train with --ui, or set statsEvery in the recipe, to record stats.jsonl)');
    return;
  }
  Z.text('steps-note', '(stats.jsonl: every ' + (d.statsEvery || '?') + ' iterations; ' + steps.length + ' lines)');
  const stepAxis = valueAxis('step', {scale: false, min: 'dataMin', max: 'dataMax', nameGap: 26,
    axisLabel: {showMinLabel: false}});

  Z.draw(Z.chart('loss', 'step-charts', 'Training loss per step',
    'mean over the iterations since the previous line; per-step accuracy is not computed (see the epoch chart)'), {
    xAxis: stepAxis, yAxis: valueAxis('loss'),
    series: [series('train loss', steps.map(s => [s.step, s.loss]), {markLine: epochMarks()})],
  });

  Z.draw(Z.chart('lr', 'step-charts', 'Learning rate per step', 'the first layer\'s rate'), {
    grid: {left: 72},
    xAxis: stepAxis, yAxis: valueAxis('learning rate', {nameGap: 56}),
    series: [series('learning rate', steps.map(s => [s.step, s.lr]), {step: 'end'})],
  });

  const ratios = layerSeries('log10Ratio');
  Z.draw(Z.chart('ratio', 'step-charts', 'Update / parameter ratio per layer (log10)',
    'mean |update| over mean |parameter|; around -3 is the usual rule of thumb'), {
    legend: legendFor(ratios.map(s => s.name)),
    xAxis: stepAxis, yAxis: valueAxis('log10 ratio'),
    series: ratios.map((s, i) => series(s.name, s.data, i === 0 ? {markLine: {silent: true, symbol: 'none',
      lineStyle: {type: 'dashed', color: '#aaa'}, data: [{yAxis: -3, label: {formatter: '-3'}}]}} : {})),
  });

  const params = layerSeries('param');
  const updates = layerSeries('update');
  const magnitudes = [];
  params.forEach((s, i) => {
    const color = Z.palette[i % Z.palette.length];
    magnitudes.push(series(s.name, s.data, {lineStyle: {color: color}, itemStyle: {color: color}}));
    const u = updates.find(x => x.name === s.name);
    if (u) {
      magnitudes.push(series(s.name, u.data, {lineStyle: {color: color, type: 'dashed'}, itemStyle: {color: color},
        symbol: 'triangle'}));
    }
  });
  Z.draw(Z.chart('magnitudes', 'step-charts', 'Parameter and update magnitudes per layer',
    'mean |parameter| (solid) and mean |update| (dashed), log scale'), {
    legend: legendFor(params.map(s => s.name)),
    grid: {left: 76},
    xAxis: stepAxis, yAxis: valueAxis('mean |x|', {type: 'log', scale: false, nameGap: 56}),
    series: magnitudes,
  });

  Z.draw(Z.chart('throughput', 'step-charts', 'Throughput', 'training images per second since the previous line'), {
    grid: {left: 76},
    xAxis: stepAxis, yAxis: valueAxis('images/s', {nameGap: 54}),
    series: [series('images/s', steps.map(s => [s.step, s.imagesPerSecond]))],
  });

  Z.draw(Z.chart('memory', 'step-charts', 'Memory',
    'the process\'s resident set (heap, ND4J\'s native arrays, the rest) and the JVM heap in use, MiB'), {
    legend: {},
    xAxis: stepAxis, yAxis: valueAxis('MiB'),
    series: [
      series('resident', steps.map(s => [s.step, Z.mib(s.rssBytes)])),
      series('heap', steps.map(s => [s.step, Z.mib(s.heapBytes)])),
    ],
  });
}

function drawLayers(layers) {
  if (!layers || layers.note) {
    Z.fill('layers', Z.el('p', {class: 'note'}, layers ? layers.note : 'no layer table'));
    Z.text('layers-totals', '');
    return;
  }
  if (layers.source === 'describe') {
    Z.text('layers-title', '(as ./zoo4j describe prints it: ' + layers.title + ')');
    Z.fill('layers', Z.table(['layer', 'type', 'output', 'params', 'MACs', 'shape arithmetic'],
      layers.rows.map(r => [r.name, r.type, r.output, r.params, r.macs, r.arithmetic]), [3, 4]));
    Z.text('layers-totals', 'trainable parameters: ' + layers.trainable + '; all parameters (DL4J): ' + layers.total
      + '; multiply-accumulates per image: ' + layers.macs);
  } else {
    Z.text('layers-title', '(the network\'s layers as DL4J has them)');
    Z.fill('layers', Z.table(['layer', 'type', 'params'], layers.rows.map(r => [r.name, r.type, r.params]), [2]));
    Z.text('layers-totals', '');
  }
}

async function loadRun() {
  const after = steps.length === 0 ? -1 : steps[steps.length - 1].step;
  const d = await Z.get('api/run?id=' + encodeURIComponent(runId) + '&after=' + after);
  addSteps(d.stats);
  document.title = 'zoo4j run ' + d.name;
  Z.text('name', d.sweep ? 'trial ' + String(d.trial).padStart(4, '0') + ' of sweep ' + d.sweep : d.name);
  Z.text('path', d.path);
  Z.fill('crumbs', d.sweep ? [Z.el('a', {href: 'sweep.html?id=' + encodeURIComponent(d.sweep)}, 'sweep ' + d.sweep),
    ' / trial ' + String(d.trial).padStart(4, '0')] : ['run ' + d.name]);
  Z.fill('status', Z.badge(d.status));
  Z.text('epoch', d.epochsDone + (d.epochsPlanned ? ' / ' + d.epochsPlanned : ''));
  const last = lastOf(d.epochs);
  Z.text('final-validation-accuracy', Z.pct(last ? last.validationAccuracy : null));
  const r = d.results || {};
  Z.text('best-epoch', r.bestEpoch ? String(r.bestEpoch) : '–');
  Z.text('test-accuracy', Z.pct(r.testAccuracy));
  Z.text('test-top5', Z.pct(r.testTop5));
  const seconds = r.trainSeconds !== undefined ? r.trainSeconds : d.epochs.reduce((a, e) => a + (e.seconds || 0), 0);
  Z.text('train-time', d.epochs.length ? Z.seconds(seconds) : '–');
  const lastStep = lastOf(steps);
  const ips = lastStep ? lastStep.imagesPerSecond : last ? last.imagesPerSecond : null;
  Z.text('throughput', ips === null || ips === undefined ? '–' : Math.round(ips).toLocaleString('en'));
  Z.fill('files', ['files: ', d.files.map(f => Z.el('a', {href: 'api/file?run=' + encodeURIComponent(runId)
    + '&name=' + encodeURIComponent(f), target: '_blank'}, f))]);
  Z.text('recipe', d.recipe || '(no recipe.yaml: a run of TrainingLoop from Java)');
  Z.text('log', d.log.length ? d.log.join('\n') : '(no train.log yet)');
  drawEpochs(d);
  drawSteps(d);
  drawLayers(d.layers);
}

Z.poll(loadRun, 2000);
