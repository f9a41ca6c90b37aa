// Search page: suggestions while typing (ARIA 1.2 combobox) and filters applied on change.
"use strict";
(function () {
  const form = document.getElementById("search-form");
  const input = document.getElementById("q");
  const list = document.getElementById("suggestions");
  if (!form || !input || !list) return;
  let items = [], active = -1, timer = 0, asked = "", controller = null;

  function close() {
    list.hidden = true; list.replaceChildren(); items = []; active = -1;
    input.setAttribute("aria-expanded", "false"); input.removeAttribute("aria-activedescendant");
  }
  function highlight(index) {
    active = index;
    items.forEach((item, i) => item.el.setAttribute("aria-selected", i === index ? "true" : "false"));
    if (index >= 0) input.setAttribute("aria-activedescendant", items[index].el.id);
    else input.removeAttribute("aria-activedescendant");
  }
  function choose(index) {
    const item = items[index];
    if (item) window.location.href = item.url;
  }
  function show(suggestions) {
    list.replaceChildren(); items = []; active = -1;
    suggestions.forEach((s, i) => {
      const li = document.createElement("li");
      li.id = "suggestion-" + i; li.setAttribute("role", "option"); li.setAttribute("aria-selected", "false");
      const label = document.createElement("span"); label.textContent = s.label;
      const kind = document.createElement("span"); kind.className = "kind";
      kind.textContent = s.kind === "keyword" ? "keyword · " + s.count : (s.type || "").replace(/_/g, " ");
      li.append(label, kind);
      li.addEventListener("mousedown", (e) => { e.preventDefault(); choose(i); });
      list.appendChild(li); items.push({el: li, url: s.url});
    });
    const open = items.length > 0;
    list.hidden = !open; input.setAttribute("aria-expanded", open ? "true" : "false");
  }
  async function fetchSuggestions() {
    const text = input.value.trim();
    if (text.length < 2) { close(); return; }
    if (text === asked) return;
    asked = text;
    if (controller) controller.abort();
    controller = new AbortController();
    try {
      const response = await fetch("/ui/suggest?q=" + encodeURIComponent(text),
        {headers: {"Accept": "application/json"}, signal: controller.signal});
      if (!response.ok) return;
      const body = await response.json();
      if (input.value.trim() === text && document.activeElement === input) show(body.suggestions || []);
    } catch (e) { /* aborted or offline: no suggestions */ }
  }
  input.addEventListener("input", () => {
    clearTimeout(timer); asked = asked === input.value.trim() ? "" : asked;
    timer = setTimeout(fetchSuggestions, 150);
  });
  input.addEventListener("keydown", (e) => {
    if (e.key === "ArrowDown") {
      if (list.hidden) { asked = ""; fetchSuggestions(); return; }
      e.preventDefault(); highlight(Math.min(items.length - 1, active + 1));
    } else if (e.key === "ArrowUp") {
      if (!list.hidden) { e.preventDefault(); highlight(Math.max(-1, active - 1)); }
    } else if (e.key === "Enter") {
      if (!list.hidden && active >= 0) { e.preventDefault(); choose(active); }
    } else if (e.key === "Escape") {
      if (!list.hidden) { e.preventDefault(); close(); }
    }
  });
  input.addEventListener("blur", () => setTimeout(close, 100));

  // a new search starts at page 1 and keeps the filters; a changed filter applies at once
  // (the focus comes back to the same checkbox after the page reloads)
  form.querySelectorAll(".facet input[type=checkbox]").forEach((box) => {
    box.addEventListener("change", () => {
      try { sessionStorage.setItem("aiodkg.focus", box.name + "=" + box.value); } catch (e) { /* */ }
      form.requestSubmit();
    });
  });
  try {
    const wanted = sessionStorage.getItem("aiodkg.focus");
    sessionStorage.removeItem("aiodkg.focus");
    if (wanted) {
      const box = Array.from(form.querySelectorAll(".facet input[type=checkbox]"))
        .find((b) => b.name + "=" + b.value === wanted);
      if (box) box.focus();
    }
  } catch (e) { /* storage unavailable */ }
})();
