"""The HTML of the review page: server-rendered, inline CSS and JavaScript, no build step.

One item at a time: its image (when it has one), its positives, and per negative five verdict
buttons that post to ``/v1/verdicts``. Keys: A absent, P present, S not similar, I implausible,
U unsure (the selected row, then the next one is selected), J/K or arrows to move, N next item,
B previous item.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from html import escape
from urllib.parse import urlencode

from hardneg.miners.knowledge.normalize import match_key
from hardneg.miners.types import Negative
from hardneg.miners.verdicts import VerdictKind

__all__ = ["KEYS", "ReviewItem", "render"]

KEYS = {
    VerdictKind.absent: "a",
    VerdictKind.present: "p",
    VerdictKind.not_similar: "s",
    VerdictKind.implausible: "i",
    VerdictKind.unsure: "u",
}


@dataclass
class ReviewItem:
    """One item of the review queue, as the page shows it."""

    index: int
    total: int
    item_id: str
    positives: list[str]
    image: str | None
    negatives: list[Negative]
    judged: dict[str, str]  # negative match key -> this annotator's verdict
    annotator: str


def verdict_id(item_id: str, negative: Negative, annotator: str) -> str:
    """One verdict per (item, positive, negative, annotator): judging again replaces it."""
    parts = ("review", item_id, match_key(negative.for_positive), match_key(negative.phrase))
    return ":".join((*parts, annotator))


_CSS = """
body{font:15px system-ui,sans-serif;margin:0;background:#f6f6f4;color:#222}
header{padding:10px 18px;background:#223;color:#fff;display:flex;gap:18px;align-items:center}
header b{font-size:17px} #progress{margin-left:auto}
main{display:flex;gap:18px;padding:18px;align-items:flex-start}
#image img{max-width:420px;max-height:420px;border:1px solid #ccc;background:#fff}
table{border-collapse:collapse;background:#fff} td{padding:5px 8px;border-bottom:1px solid #eee}
tr.sel{outline:2px solid #36c} td.meta{color:#777;font-size:12px}
button{margin:0 2px;padding:3px 7px;border:1px solid #bbb;background:#fafafa;cursor:pointer}
button.on{color:#fff;border-color:#000}
button.on.absent{background:#2a7} button.on.present{background:#c33}
button.on.not_similar{background:#c83} button.on.implausible{background:#85c}
button.on.unsure{background:#888} kbd{border:1px solid #aaa;border-radius:3px;padding:0 3px}
nav a{color:#9cf;margin-right:10px} #status{color:#c33;margin-left:12px}
"""

_JS = """
const S = JSON.parse(document.getElementById('state').textContent);
const rows = [...document.querySelectorAll('tr.neg')];
let sel = 0;
function select(i) {
  if (!rows.length) return;
  sel = Math.max(0, Math.min(rows.length - 1, i));
  rows.forEach((r, j) => r.classList.toggle('sel', j === sel));
}
function progress() {
  const done = rows.filter(r => r.dataset.verdict).length;
  document.getElementById('judged').textContent = done + ' of ' + rows.length + ' judged';
}
async function judge(row, verdict) {
  const body = {id: row.dataset.id, item_id: S.item_id, positive: row.dataset.positive,
    negative: row.dataset.phrase, verdict: verdict, annotator: S.annotator, source: 'review',
    sources: JSON.parse(row.dataset.sources), kind: row.dataset.kind,
    score: parseFloat(row.dataset.score)};
  const resp = await fetch(S.verdicts_url, {method: 'POST',
    headers: {'content-type': 'application/json'}, body: JSON.stringify(body)});
  const status = document.getElementById('status');
  if (!resp.ok) {
    const err = await resp.json().catch(() => ({error: {message: resp.statusText}}));
    status.textContent = 'not saved: ' + err.error.message;
    return;
  }
  status.textContent = '';
  row.dataset.verdict = verdict;
  row.querySelectorAll('button').forEach(
    b => b.classList.toggle('on', b.dataset.verdict === verdict));
  progress();
}
document.addEventListener('click', e => {
  const b = e.target.closest('button[data-verdict]');
  if (!b) return;
  const row = b.closest('tr');
  select(rows.indexOf(row));
  judge(row, b.dataset.verdict);
});
document.addEventListener('keydown', async e => {
  if (e.target.tagName === 'INPUT' || e.ctrlKey || e.metaKey || e.altKey) return;
  const k = e.key.toLowerCase();
  if (S.keys[k] && rows.length) {
    e.preventDefault();
    const row = rows[sel];
    select(sel + 1);  // before the post: a fast typist's next key is for the next row
    await judge(row, S.keys[k]);
  } else if (k === 'j' || k === 'arrowdown') { e.preventDefault(); select(sel + 1); }
  else if (k === 'k' || k === 'arrowup') { e.preventDefault(); select(sel - 1); }
  else if ((k === 'n' || k === 'arrowright') && S.next) { location.href = S.next; }
  else if ((k === 'b' || k === 'arrowleft') && S.prev) { location.href = S.prev; }
});
select(0); progress();
"""


def _row(item: ReviewItem, n: Negative) -> str:
    current = item.judged.get(match_key(n.phrase), "")
    buttons = "".join(
        f'<button class="{v.value}{" on" if current == v.value else ""}"'
        f' data-verdict="{v.value}" title="key {key.upper()}">'
        f"{escape(v.value.replace('_', ' '))} <kbd>{key.upper()}</kbd></button>"
        for v, key in KEYS.items()
    )
    attrs = {
        "id": verdict_id(item.item_id, n, item.annotator),
        "phrase": n.phrase,
        "positive": n.for_positive,
        "sources": json.dumps(n.sources),
        "kind": n.kind.value,
        "score": str(n.score),
        "verdict": current,
    }
    data = " ".join(f'data-{k}="{escape(v)}"' for k, v in attrs.items())
    meta = f"{n.kind.value} · {', '.join(n.sources)} · {n.score:.2f}"
    return (
        f'<tr class="neg" {data}><td><b>{escape(n.phrase)}</b></td>'
        f'<td class="meta">{escape(meta)}</td><td>{buttons}</td></tr>'
    )


def render(item: ReviewItem, base: str, verdicts_url: str) -> str:
    """The page for one item; ``base`` is the page's URL without the query."""

    def link(i: int) -> str | None:
        if not 0 <= i < item.total:
            return None
        return f"{base}?{urlencode({'i': i, 'annotator': item.annotator})}"

    state = {
        "item_id": item.item_id,
        "annotator": item.annotator,
        "verdicts_url": verdicts_url,
        "keys": {k: v.value for v, k in KEYS.items()},
        "next": link(item.index + 1),
        "prev": link(item.index - 1),
    }
    image = (
        f'<div id="image"><img src="{escape(item.image)}" alt="item image"></div>'
        if item.image
        else ""
    )
    rows = "".join(_row(item, n) for n in item.negatives) or (
        "<tr><td>no negatives for this item</td></tr>"
    )
    state_json = json.dumps(state).replace("</", "<\\/")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>hardneg review: {escape(item.item_id)}</title>
<style>{_CSS}</style></head><body>
<header><b>{escape(", ".join(item.positives))}</b><span>item {escape(item.item_id)}</span>
<span id="progress">item {item.index + 1} of {item.total} · <span id="judged"></span></span>
<span id="status"></span></header>
<main>{image}<div><table>{rows}</table>
<p>Keys: <kbd>A</kbd> absent <kbd>P</kbd> present <kbd>S</kbd> not similar <kbd>I</kbd>
implausible <kbd>U</kbd> unsure · <kbd>J</kbd>/<kbd>K</kbd> move · <kbd>N</kbd> next item
<kbd>B</kbd> previous · annotator <b>{escape(item.annotator)}</b></p></div></main>
<script type="application/json" id="state">{state_json}</script>
<script>{_JS}</script></body></html>"""
