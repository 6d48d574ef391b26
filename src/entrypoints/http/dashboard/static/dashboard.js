// Operator dashboard: the little JavaScript it needs, no framework.
// - [data-confirm] buttons ask before submitting (switching a gateway down).
// - [data-refresh=N] regions re-fetch this page every N seconds and swap in
//   their fresh copy, so new transactions and gateway health appear without
//   reloading (paused while the tab is hidden or a field inside has focus).
"use strict";

document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-confirm]");
  if (button && !window.confirm(button.dataset.confirm)) {
    event.preventDefault();
  }
});

function startRefresh(region) {
  const seconds = Number(region.dataset.refresh);
  if (!region.id || !(seconds > 0)) return;
  let busy = false;
  window.setInterval(async () => {
    if (busy || document.hidden || region.contains(document.activeElement)) return;
    busy = true;
    try {
      // The header tells the server not to consume one-shot messages.
      const response = await fetch(window.location.href, {
        headers: { "X-Dashboard-Refresh": "1" },
        credentials: "same-origin",
        cache: "no-store",
      });
      if (response.redirected && new URL(response.url).pathname.endsWith("/login")) {
        window.location.assign(response.url); // session expired: show the login page
        return;
      }
      const html = await response.text();
      const fresh = new DOMParser().parseFromString(html, "text/html").getElementById(region.id);
      if (fresh) region.replaceChildren(...fresh.childNodes);
    } catch (error) {
      // A failed refresh keeps the last good copy; the next tick tries again.
    } finally {
      busy = false;
    }
  }, seconds * 1000);
}

document.querySelectorAll("[data-refresh]").forEach(startRefresh);
