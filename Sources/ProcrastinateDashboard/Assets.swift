/// The dashboard's style and script, served from its own routes: no CDN, no font download.
enum Assets {
  static let css = """
    :root{--fg:#1f2328;--muted:#656d76;--line:#d8dee4;--bg:#f6f8fa;--accent:#0969da}
    *{box-sizing:border-box}
    body{margin:0;font:14px/1.45 -apple-system,"Segoe UI",Helvetica,Arial,sans-serif;color:var(--fg)}
    header{display:flex;gap:24px;align-items:center;padding:10px 24px;background:#24292f;color:#fff}
    header .brand{font-weight:600} header nav a{color:#d0d7de;margin-right:16px;text-decoration:none}
    header nav a.current{color:#fff;font-weight:600} header .updated{margin-left:auto;color:#8c959f;font-size:12px}
    main{padding:20px 24px;max-width:1400px}
    h1{font-size:20px;margin:0 0 16px} h2{font-size:16px;margin:24px 0 8px}
    a{color:var(--accent)} code,pre{font:12px ui-monospace,SFMono-Regular,Menlo,monospace}
    pre{background:var(--bg);padding:10px;border-radius:6px;overflow:auto;max-height:360px}
    table{border-collapse:collapse;width:100%;margin-bottom:8px}
    th,td{text-align:left;padding:6px 10px;border-bottom:1px solid var(--line);vertical-align:top}
    th{background:var(--bg);font-weight:600;font-size:12px;color:var(--muted)}
    td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
    td.args{max-width:420px;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
    .cards{display:flex;gap:12px;flex-wrap:wrap}
    .card{border:1px solid var(--line);border-radius:6px;padding:10px 16px;min-width:140px;text-decoration:none;color:var(--fg)}
    .card b{display:block;font-size:22px} .card.alert b{color:#cf222e}
    .status{display:inline-block;padding:0 8px;border-radius:10px;font-size:12px;background:#eaeef2}
    .status-succeeded{background:#dafbe1;color:#116329} .status-failed{background:#ffebe9;color:#a40e26}
    .status-doing{background:#ddf4ff;color:#0550ae} .status-todo{background:#fff8c5;color:#7d4e00}
    .status-aborted,.status-aborting,.status-cancelled{background:#eaeef2;color:#57606a}
    .muted{color:var(--muted)} .silent{color:#cf222e;font-weight:600}
    form.filters{display:flex;gap:8px;flex-wrap:wrap;margin-bottom:12px;align-items:end}
    form.filters label{display:flex;flex-direction:column;font-size:12px;color:var(--muted)}
    input,select,button{font:inherit;padding:4px 8px;border:1px solid var(--line);border-radius:6px}
    button{background:var(--bg);cursor:pointer} button.danger{color:#cf222e}
    form.action{display:inline-block;margin-right:8px}
    dl.fields{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;margin:0}
    dl.fields dt{color:var(--muted)} dl.fields dd{margin:0}
    .pager{display:flex;gap:16px;margin-top:8px}
    .waterfall{border:1px solid var(--line);border-radius:6px}
    .span-row{border-bottom:1px solid #eef1f4}
    .span-row summary{display:flex;align-items:center;height:26px;cursor:pointer;list-style:none}
    .span-row summary::-webkit-details-marker{display:none}
    .span-row summary:hover{background:#f3f6fa}
    .span-name{width:38%;white-space:nowrap;overflow:hidden;text-overflow:ellipsis;padding-right:8px}
    .span-name .kind{font-size:11px;color:var(--muted);margin-left:6px}
    .lane{position:relative;flex:1;height:100%}
    .bar{position:absolute;top:7px;height:12px;border-radius:2px;background:#6c8ebf;min-width:2px}
    .bar.producer{background:#d79b00} .bar.consumer{background:#57a05a} .bar.client{background:#9673a6}
    .bar.server{background:#4f7fc0} .bar.error{background:#cf222e}
    .ms{position:absolute;top:5px;font-size:11px;color:var(--muted);padding-left:4px;white-space:nowrap}
    .span-detail{padding:6px 12px 10px 24px;background:#fbfcfd;font-size:12px}
    .span-detail table{width:auto} .span-detail td{padding:2px 10px;border:none}
    .notice{padding:10px 14px;border-radius:6px;background:var(--bg);border:1px solid var(--line)}
    .flash{padding:8px 14px;border-radius:6px;background:#dafbe1;margin-bottom:12px}
    """

  /// Refreshes `<main>` every `data-refresh` seconds from the same URL, keeping the spans
  /// a reader opened; sends each action form's CSRF token along (it is in the form).
  static let javascript = """
    (function () {
      var seconds = parseInt(document.body.dataset.refresh || "0", 10);
      var stamp = function () {
        var el = document.getElementById("updated");
        if (el) el.textContent = "updated " + new Date().toLocaleTimeString();
      };
      stamp();
      if (!seconds) return;
      setInterval(function () {
        if (document.hidden) return;
        fetch(location.href, {headers: {"X-Dashboard-Refresh": "1"}, credentials: "same-origin"})
          .then(function (response) { return response.ok ? response.text() : null; })
          .then(function (html) {
            if (html === null) return;
            var open = Array.prototype.map.call(
              document.querySelectorAll("details[open][id]"), function (d) { return d.id; });
            var next = new DOMParser().parseFromString(html, "text/html").getElementById("main");
            var main = document.getElementById("main");
            if (!next || !main) return;
            main.innerHTML = next.innerHTML;
            open.forEach(function (id) {
              var d = document.getElementById(id);
              if (d) d.open = true;
            });
            stamp();
          })
          .catch(function () {});
      }, seconds * 1000);
    })();
    """
}
