// The editor of `stance review`: walks the review queue, saves every change at once, exports.
// Document strings only ever reach the page through textContent (never innerHTML).
(function () {
  'use strict';
  var D = JSON.parse(document.getElementById('review-data').textContent);
  var TOKEN = new URLSearchParams(location.search).get('token') || '';
  var KEY_STANCE = {'1': 'support', '2': 'oppose', '3': 'mixed', '4': 'neutral', '5': 'none'};
  var cur = null, draft = null, dirty = false;
  var $ = function (id) { return document.getElementById(id); };
  var order = D.queue.map(function (q) { return q.cell; });
  var why = {};
  D.queue.forEach(function (q) { why[q.cell] = q; });

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function api(path, body) {
    return fetch(path, {method: body === undefined ? 'GET' : 'POST', credentials: 'omit', cache: 'no-store',
      headers: {'X-Review-Token': TOKEN, 'Content-Type': 'application/json'},
      body: body === undefined ? undefined : JSON.stringify(body)})
      .then(function (r) {
        return r.json().then(function (j) { if (!r.ok) throw new Error(j.error || r.statusText); return j; });
      });
  }
  function reviewer() { return (localStorage.getItem('remiss-reviewer') || '').trim(); }
  function reviewedCount() { return order.filter(function (c) { return D.cells[c].review; }).length; }
  function counts() {
    var done = reviewedCount();
    $('counts').textContent = done + ' reviewed · ' + (order.length - done) + ' left';
  }
  function parts(cell) { var p = cell.split(':'); return {n: +p[0], k: +p[1]}; }

  function open(cell) {
    if (!D.cells[cell]) return;
    cur = cell;
    var c = D.cells[cell], pk = parts(cell);
    draft = {stance: c.stance, basis: c.basis || 'explicit', evidence: c.evidence.slice(), note: c.note || '',
             unsure: c.confidence === 'low'};
    dirty = false;
    history.replaceState(null, '', location.pathname + location.search + '#edit-' + pk.n + '-' + pk.k);
    $('cell-title').textContent = D.docs[pk.n - 1].doc_id + ' — ' + pk.k + '. ' + D.proposals[pk.k - 1].title;
    var w = why[cell] || {tier_name: '', reasons: []};
    var box = $('cell-why');
    box.textContent = '';
    box.appendChild(el('b', '', 'In the queue: ' + w.tier_name));
    w.reasons.forEach(function (r) { box.appendChild(el('div', 'reason', r)); });
    var was = c.review ? 'reviewed by ' + c.review.reviewer + ', ' + c.review.time + ' (delivered: ' +
      c.review.original.stance + ', score ' + c.review.original.score.toFixed(2) + ')'
      : 'delivered: ' + c.stance + ', score ' + c.score.toFixed(2) + ', basis ' + (c.basis || '—');
    $('cell-was').textContent = was;
    $('cell-was').className = 'was' + (c.review ? ' done' : '');
    $('note').value = draft.note;
    $('unsure').checked = draft.unsure;
    $('pos').textContent = (order.indexOf(cell) + 1) + ' of ' + order.length;
    showDocument(pk.n);
    paint(true);
    $('status').textContent = '';
    document.querySelectorAll('[data-cell].current').forEach(function (e) { e.classList.remove('current'); });
    document.querySelectorAll('[data-cell="' + cell + '"]').forEach(function (e) { e.classList.add('current'); });
  }

  function showDocument(n) {
    var box = $('doctext'), src = document.querySelector('#d-' + n + ' .text');
    box.textContent = '';
    if (!src) return;
    var copy = src.cloneNode(true);
    copy.querySelectorAll('.tag').forEach(function (t) { t.remove(); });
    copy.querySelectorAll('[id]').forEach(function (e) {
      var m = /^d-\d+-s-(\d+)$/.exec(e.id);
      if (m) e.setAttribute('data-i', m[1]);
      e.removeAttribute('id');
    });
    copy.querySelectorAll('.ev').forEach(function (e) { e.classList.remove('ev'); });
    while (copy.firstChild) box.appendChild(copy.firstChild);
  }

  function sentenceText(i) {
    var s = $('doctext').querySelector('[data-i="' + i + '"]');
    return s ? s.textContent : '(sentence ' + i + ')';
  }

  function paint(scroll) {
    document.querySelectorAll('#editor .st').forEach(function (b) {
      b.classList.toggle('on', b.getAttribute('data-stance') === draft.stance);
      b.setAttribute('aria-pressed', b.getAttribute('data-stance') === draft.stance ? 'true' : 'false');
    });
    var none = draft.stance === 'none';
    document.querySelectorAll('#editor input[name=basis]').forEach(function (r) {
      r.checked = !none && r.value === draft.basis;
      r.disabled = none;
    });
    var list = $('evidence');
    list.textContent = '';
    draft.evidence.forEach(function (i) {
      var li = el('li', '', sentenceText(i));
      var x = el('button', 'rm', '×');
      x.type = 'button';
      x.title = 'remove';
      x.addEventListener('click', function () { toggle(i); });
      li.appendChild(x);
      list.appendChild(li);
    });
    if (!draft.evidence.length) list.appendChild(el('li', 'muted', none ? 'none: no evidence' : 'no evidence chosen'));
    $('doctext').querySelectorAll('[data-i]').forEach(function (s) {
      s.classList.toggle('pick', draft.evidence.indexOf(+s.getAttribute('data-i')) >= 0);
    });
    var box = $('doctext'), first = box.querySelector('.pick');
    if (first && scroll) box.scrollTop = Math.max(0, first.offsetTop - box.offsetTop - box.clientHeight / 3);
  }

  function toggle(i) {
    if (draft.stance === 'none') setStance('neutral');
    var at = draft.evidence.indexOf(i);
    if (at >= 0) draft.evidence.splice(at, 1); else draft.evidence.push(i);
    draft.evidence.sort(function (a, b) { return a - b; });
    dirty = true;
    paint();
  }
  function setStance(st) {
    draft.stance = st;
    if (st === 'none') draft.evidence = [];
    dirty = true;
    paint();
  }

  function save(thenNext) {
    var name = reviewer();
    if (!name) { askName(); return; }
    var c = D.cells[cur], cell = cur;
    $('status').textContent = 'saving…';
    api('api/save', {doc_id: c.doc_id, proposal_id: c.proposal_id, stance: draft.stance,
                     basis: draft.stance === 'none' ? null : draft.basis, evidence: draft.evidence,
                     note: $('note').value, confidence: $('unsure').checked ? 'low' : 'high', reviewer: name})
      .then(function (j) {
        D.cells[cell] = j.cell;
        dirty = false;
        counts();
        markReport(cell);
        if (thenNext) next(); else { open(cell); $('status').textContent = 'saved ' + j.cell.review.time; }
      })
      .catch(function (e) { $('status').textContent = 'not saved: ' + e.message; });
  }

  function markReport(cell) {
    var c = D.cells[cell];
    document.querySelectorAll('[data-cell="' + cell + '"]').forEach(function (e) {
      e.classList.add('reviewed');
      var tag = e.querySelector('.rev') || e.appendChild(el('span', 'rev'));
      tag.textContent = 'reviewed by ' + c.review.reviewer + ': ' + c.stance;
    });
  }

  function next() {
    var start = order.indexOf(cur);
    for (var step = 1; step <= order.length; step++) {
      var c = order[(start + step) % order.length];
      if (!D.cells[c].review) { open(c); return; }
    }
    $('status').textContent = 'every cell is reviewed';
  }
  function prev() {
    var at = order.indexOf(cur);
    if (at > 0) open(order[at - 1]);
  }

  function askName() {
    $('namedlg').hidden = false;
    $('namein').value = reviewer();
    $('namein').focus();
  }

  function exportAll() {
    $('export-result').textContent = 'exporting…';
    api('api/export', {}).then(function (j) {
      $('export-result').textContent = 'written to ' + j.dir + ': ' + j.files.join(', ') +
        (j.problems.length ? ' — ' + j.problems.join(' / ') : '');
    }).catch(function (e) { $('export-result').textContent = 'export failed: ' + e.message; });
  }

  function refresh() {  // another tab may have saved: take the server's values for the cells not being edited
    api('api/cells').then(function (j) {
      Object.keys(j.cells).forEach(function (c) { if (c !== cur || !dirty) D.cells[c] = j.cells[c]; });
      counts();
      if (!dirty && cur) open(cur);
    }).catch(function () {});
  }

  document.addEventListener('DOMContentLoaded', function () {
    $('reviewer').value = reviewer();
    $('reviewer').addEventListener('change', function () {
      localStorage.setItem('remiss-reviewer', $('reviewer').value.trim());
    });
    $('nameform').addEventListener('submit', function (ev) {
      ev.preventDefault();
      var v = $('namein').value.trim();
      if (!v) return;
      localStorage.setItem('remiss-reviewer', v);
      $('reviewer').value = v;
      $('namedlg').hidden = true;
    });
    document.querySelectorAll('#editor .st').forEach(function (b) {
      b.addEventListener('click', function () { setStance(b.getAttribute('data-stance')); });
    });
    document.querySelectorAll('#editor input[name=basis]').forEach(function (r) {
      r.addEventListener('change', function () { draft.basis = r.value; dirty = true; });
    });
    $('note').addEventListener('input', function () { dirty = true; });
    $('unsure').addEventListener('change', function () { dirty = true; });
    $('doctext').addEventListener('click', function (ev) {
      var s = ev.target.closest('[data-i]');
      if (s && !s.classList.contains('h')) toggle(+s.getAttribute('data-i'));
    });
    $('accept').addEventListener('click', function () { save(true); });
    $('save').addEventListener('click', function () { save(false); });
    $('next').addEventListener('click', next);
    $('prev').addEventListener('click', prev);
    $('export').addEventListener('click', exportAll);
    document.querySelectorAll('main [data-cell]').forEach(function (e) {
      var b = el('button', 'edit-btn', 'edit');
      b.type = 'button';
      b.addEventListener('click', function (ev) { ev.preventDefault(); open(e.getAttribute('data-cell')); });
      e.appendChild(b);
    });
    document.addEventListener('keydown', function (ev) {
      var t = ev.target.tagName;
      if (ev.ctrlKey || ev.metaKey || ev.altKey || t === 'INPUT' || t === 'TEXTAREA') {
        if (ev.key === 'Escape') ev.target.blur();
        return;
      }
      if (KEY_STANCE[ev.key]) setStance(KEY_STANCE[ev.key]);
      else if (ev.key === 'n') next();
      else if (ev.key === 'p') prev();
      else if (ev.key === 'a') save(true);
      else if (ev.key === 's') save(false);
      else if ((ev.key === 'e' || ev.key === 'g') && draft.stance !== 'none') {
        draft.basis = ev.key === 'e' ? 'explicit' : 'general'; dirty = true; paint();
      } else return;
      ev.preventDefault();
    });
    document.addEventListener('visibilitychange', function () { if (!document.hidden) refresh(); });
    counts();
    var m = /^#edit-(\d+)-(\d+)$/.exec(location.hash);
    var start = m && D.cells[m[1] + ':' + m[2]] ? m[1] + ':' + m[2]
      : order.filter(function (c) { return !D.cells[c].review; })[0] || order[0];
    if (start) open(start);
    if (!reviewer()) askName();
  });
})();
