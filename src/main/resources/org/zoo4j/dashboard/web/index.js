// The index: every run and sweep the dashboard serves, refreshed every 3 s.
'use strict';

async function loadIndex() {
  const index = await Z.get('api/index');
  if (index.runs.length === 0) {
    Z.fill('runs', Z.el('p', {class: 'note'}, 'No runs here yet.'));
  } else {
    Z.fill('runs', Z.table(['run', 'model', 'dataset', 'status', 'epochs', 'validation accuracy', 'test accuracy',
      'updated'], index.runs.map(r => [
      Z.el('a', {href: 'run.html?id=' + encodeURIComponent(r.id), title: r.path}, r.name),
      r.model || '', r.dataset || '', Z.badge(r.status),
      r.epochsDone + (r.epochsPlanned ? ' / ' + r.epochsPlanned : ''),
      Z.pct(r.validationAccuracy), Z.pct(r.testAccuracy), Z.ago(r.updated)]), [4, 5, 6]));
  }
  if (index.sweeps.length === 0) {
    Z.fill('sweeps', Z.el('p', {class: 'note'}, 'No sweeps here.'));
  } else {
    Z.fill('sweeps', Z.table(['sweep', 'objective', 'trials', 'complete', 'pruned', 'failed', 'running', 'best'],
      index.sweeps.map(s => [
        Z.el('a', {href: 'sweep.html?id=' + encodeURIComponent(s.id), title: s.path}, s.name),
        s.error ? Z.el('span', {class: 'error'}, s.error) : s.objective, s.trials,
        s.counts ? s.counts.complete : '', s.counts ? s.counts.pruned : '', s.counts ? s.counts.failed : '',
        s.counts ? s.counts.running : '',
        s.best === null || s.best === undefined ? '–'
          : Z.general(s.best) + ' (trial ' + String(s.bestTrial).padStart(4, '0') + ')']), [2, 3, 4, 5, 6, 7]));
  }
}

Z.poll(loadIndex, 3000);
