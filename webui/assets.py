"""Page-wide CSS and the one script of the app (citation links -> highlight the source in the panel)."""

from __future__ import annotations

CSS = """
.gradio-container { max-width: 1280px !important; }
#app-header h1 { margin-bottom: 0.2em; }
#status .status { padding: .45em .8em; border-radius: 8px; font-size: .95em; }
#status .status::before { content: ""; display: inline-block; width: .6em; height: .6em; border-radius: 50%;
                          margin-right: .5em; background: currentColor; vertical-align: middle; }
#status .status.loading::before { animation: cchc-blink 1s steps(1) infinite; }
#status .status.loading { background: #eff6ff; color: #1e3a8a; border: 1px solid #bfdbfe; }
#status .status.ready { background: #f0fdf4; color: #14532d; border: 1px solid #bbf7d0; }
#status .status.failed { background: #fef2f2; color: #7f1d1d; border: 1px solid #fecaca; }
.answer { line-height: 1.55; overflow-wrap: anywhere; }
.answer.refusal { background: #fff7e6; color: #5b3b00; border-left: 4px solid #f0a500; padding: .5em .75em; border-radius: 6px; }
.answer.refusal .refusal-head { font-weight: 700; margin-bottom: .25em; }
.answer.error { background: #fef2f2; color: #7f1d1d; border-left: 4px solid #dc2626; padding: .5em .75em; border-radius: 6px; }
.answer .notice { font-size: .88em; color: #92400e; background: #fffbeb; padding: .25em .5em; border-radius: 4px; margin-bottom: .35em; }
.answer.streaming { opacity: .85; }
.answer.streaming .verifying { font-size: .85em; font-weight: 600; color: var(--body-text-color-subdued); }
.answer.streaming .draft { color: var(--body-text-color-subdued); font-style: italic; }
.answer .caret { animation: cchc-blink 1s steps(1) infinite; margin-left: 2px; }
@keyframes cchc-blink { 50% { opacity: 0; } }
a.cite { font-weight: 700; text-decoration: none !important; color: #1d4ed8 !important; background: #e0e7ff;
         border-radius: 4px; padding: 0 .2em; margin: 0 .05em; cursor: pointer; white-space: nowrap; }
a.cite:hover, a.cite:focus { background: #c7d2fe; outline: 2px solid #6366f1; }
.sources-panel h3 { margin: 0 0 .4em 0; }
.sources-panel details.turn-sources { margin-bottom: .6em; }
.sources-panel summary { cursor: pointer; font-weight: 600; overflow-wrap: anywhere; }
.source-list, .wording-list { padding-left: 0; list-style: none; margin: .4em 0; }
.source, .wording-match { border: 1px solid #d4d4d8; border-radius: 8px; padding: .5em .75em; margin: .5em 0;
                          overflow-wrap: anywhere; scroll-margin-top: 80px; transition: background .3s, box-shadow .3s; }
.source.flash { background: #fffbeb; box-shadow: 0 0 0 3px #f59e0b; }
.src-head { font-weight: 600; }
.src-n { color: #1d4ed8; margin-right: .25em; }
.src-meta { font-size: .85em; color: #52525b; margin: .15em 0 .35em; }
.src-superseded { font-size: .85em; color: #7c2d12; background: #fff7ed; border: 1px solid #fdba74; border-radius: 6px;
  padding: .2em .5em; margin: .2em 0 .35em; }
.src-in-force { font-size: .85em; color: #14532d; margin: .1em 0 .3em; }
.src-para { margin: .3em 0 0 0; padding: .35em .6em; border-left: 3px solid #d4d4d8; font-size: .95em; line-height: 1.5;
            white-space: normal; }
mark { background: #fde68a; color: #1c1917; padding: 0 .1em; border-radius: 2px; }
/* contrast (WCAG AA, checked by axe in the browser tests): Gradio's orange and red buttons and its footer links */
#send, button.primary { background: #c2410c !important; border-color: #c2410c !important; color: #ffffff !important; }
#send:hover, button.primary:hover { background: #9a3412 !important; }
#stop, button.stop { background: #b91c1c !important; border-color: #b91c1c !important; color: #ffffff !important; }
footer .show-api, footer a, footer button, .max_value, .min_value { color: #52525b !important; }
:focus-visible { outline: 3px solid #1d4ed8 !important; outline-offset: 2px; }
del { background: #fee2e2; color: #991b1b; }
ins { background: #dcfce7; color: #14532d; text-decoration: none; border-bottom: 1px solid #16a34a; }
.diff { margin: .3em 0; line-height: 1.6; }
.diff .label, .muted { color: #71717a; }
.diff.same { color: #15803d; font-size: .9em; }
.badge { display: inline-block; font-size: .8em; font-weight: 700; padding: .05em .5em; border-radius: 999px; margin-right: .4em; }
.badge.exact { background: #dcfce7; color: #14532d; }
.badge.folded { background: #e0f2fe; color: #0c4a6e; }
.sr-only { position: absolute !important; width: 1px; height: 1px; padding: 0; margin: -1px; overflow: hidden;
           clip: rect(0, 0, 0, 0); white-space: nowrap; border: 0; }
.badge.near { background: #f4f4f5; color: #3f3f46; }
.table-wrap { overflow-x: auto; max-width: 100%; }
.table-wrap table { border-collapse: collapse; font-size: .88em; width: 100%; }
.table-wrap th, .table-wrap td { border: 1px solid #e4e4e7; padding: .25em .45em; vertical-align: top; text-align: left; }
.lab-result pre { white-space: pre-wrap; overflow-wrap: anywhere; font-size: .82em; max-height: 28em; overflow: auto; }
.lab-result .valid { color: #15803d; font-weight: 700; }
.lab-result .invalid { color: #b91c1c; font-weight: 700; }
.lab-result .marker { color: #1d4ed8; font-weight: 700; }
.example-row button { white-space: normal !important; text-align: left; }
.feedback-row { align-items: center; }
#feedback-status { min-height: 1.5em; }
@media (max-width: 480px) {
  .gradio-container { padding: 4px !important; }
  #app-header h1 { font-size: 1.25em; }
  .src-para { font-size: .92em; }
}
"""

# One delegated listener: a click on [n] (an <a class="cite" href="#cite-T-N">) opens the turn's block in
# the sources panel, scrolls the passage into view and flashes it. Markup inside messages cannot carry
# handlers (they are sanitised), hence the delegation from the document.
HEAD = """
<script>
(function () {
  document.documentElement.lang = 'vi';
  function show(id) {
    var el = document.getElementById(id);
    if (!el) { return false; }
    var det = el.closest('details');
    if (det) { det.open = true; }
    document.querySelectorAll('.source.flash').forEach(function (e) { e.classList.remove('flash'); });
    el.classList.add('flash');
    el.scrollIntoView({behavior: 'smooth', block: 'center'});
    window.__cchcLastCite = id;
    return true;
  }
  document.addEventListener('click', function (ev) {
    var a = ev.target && ev.target.closest ? ev.target.closest('a.cite') : null;
    if (!a) { return; }
    var href = a.getAttribute('href') || '';
    if (href.charAt(0) !== '#') { return; }
    ev.preventDefault();
    ev.stopPropagation();
    show(href.slice(1));
  }, true);
  // Screen readers: each new verified answer is read out once, from a polite live region (drafts are not).
  var live = document.createElement('div');
  live.id = 'cchc-live';
  live.className = 'sr-only';
  live.setAttribute('aria-live', 'polite');
  live.setAttribute('role', 'status');
  var announced = 0;
  function attach() { if (!live.isConnected && document.body) { document.body.appendChild(live); } }
  new MutationObserver(function () {
    attach();
    var done = document.querySelectorAll('#chatbot .answer:not(.streaming)');
    if (done.length > announced) {
      live.textContent = 'Câu trả lời mới: ' + done[done.length - 1].textContent.trim();
    }
    announced = done.length;
  }).observe(document.documentElement, {subtree: true, childList: true});
})();
</script>
"""

__all__ = ["CSS", "HEAD"]
