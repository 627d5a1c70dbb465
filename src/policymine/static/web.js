// policymine in the browser: a little keyboard help, searches and "why?" fetched in place.
// The pages work without it: every link and form is plain HTML.
"use strict";

function typing(target) {
  return target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
}

document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
  if (event.key === "/") {  // "/" jumps to the query box, as on many search sites
    const box = document.querySelector("#q, #text");
    if (box) { event.preventDefault(); box.focus(); box.select(); }
  } else if (event.key === "ArrowLeft" || event.key === "ArrowRight") {  // page view: turn the page
    const link = document.querySelector(event.key === "ArrowLeft" ? "a[rel=prev]" : "a[rel=next]");
    if (link) { event.preventDefault(); link.click(); }
  }
});

// "why?": fetch the same search with explain=1 and put each hit's explanation in place.
document.addEventListener("click", async (event) => {
  const link = event.target.closest("a.why-link");
  if (!link) return;
  event.preventDefault();
  link.textContent = "why? …";
  try {
    const response = await fetch(link.href.split("#")[0], { headers: { Accept: "text/html" } });
    const page = new DOMParser().parseFromString(await response.text(), "text/html");
    for (const why of page.querySelectorAll("li.hit .why")) {
      const pid = why.closest("li.hit").dataset.pid;
      const mine = document.querySelector(`a.why-link[data-pid="${pid}"]`);
      if (mine) mine.closest("li.hit").querySelector(".actions").after(why);
      if (mine) mine.remove();
    }
    const own = document.querySelector(`li.hit[data-pid="${link.dataset.pid}"] .why`);
    if (own) { own.tabIndex = -1; own.focus(); }
  } catch (error) {
    window.location.href = link.href;  // no script help: the explained page itself
  }
});

// Page view: bring the highlighted passage into view once the page image has its size.
const firstMark = document.querySelector(".paper .hl");
if (firstMark && !window.location.hash) {
  firstMark.scrollIntoView({ block: "center" });
}

// A form's address without its empty fields, so that it stays short and shareable.
function address(form) {
  const params = new URLSearchParams();
  for (const [name, value] of new FormData(form)) if (value !== "") params.append(name, value);
  return `${form.getAttribute("action") || window.location.pathname}?${params}`;
}

// Search in place: the new hits replace the old ones without loading a new page, in less than
// half the time (no unload, no new document, no restyling; benchmarks/web_latency.py). The address changes as a
// plain search's would, "back" works, and on any failure the browser loads the page itself.
async function showInPlace(url, push) {
  const response = await fetch(url, { headers: { Accept: "text/html" } });
  const page = new DOMParser().parseFromString(await response.text(), "text/html");
  const main = page.querySelector("main");
  if (!main) throw new Error("no page to show");
  document.querySelector("main").replaceWith(main);
  document.title = page.title;
  if (push && new URL(url, window.location.href).href !== window.location.href) {
    history.pushState({ inPlace: true }, "", url);  // the same search again adds no history
  }
  const status = main.querySelector("[role=status], [role=alert]");
  if (status) {  // the summary takes the focus (and is read out): Tab goes on to the hits
    status.tabIndex = -1;
    status.focus({ preventScroll: true });
  }
}

window.addEventListener("popstate", () => {
  showInPlace(window.location.href, false).catch(() => window.location.reload());
});

// Every form is a GET: its address leaves out the empty fields (short and shareable), and a
// search's hits come in place.
document.addEventListener("submit", (event) => {
  event.preventDefault();
  const url = address(event.target);
  if (event.target.matches("form.search") && window.fetch && window.DOMParser) {
    showInPlace(url, true).catch(() => { window.location.href = url; });
  } else {
    window.location.href = url;
  }
});

// On a phone the facets fold away (but for those in use), so that the records come first.
if (window.matchMedia("(max-width: 40rem)").matches) {
  for (const facet of document.querySelectorAll("details.facet")) {
    if (!facet.querySelector("[aria-current]")) facet.open = false;
  }
}
