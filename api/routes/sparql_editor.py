"""The SPARQL editor page: plain HTML and a little inline JavaScript, no network but /sparql.

Prefixes and example queries are preloaded; SELECT/ASK answers are shown as a table, CONSTRUCT
and DESCRIBE answers as Turtle. ``?query=`` prefills (and runs) a query, so links can be shared.
"""

from __future__ import annotations

import base64
import hashlib
import json

EXAMPLES: tuple[tuple[str, str], ...] = (
    (
        "Datasets and their names",
        """SELECT ?dataset ?name ?issued WHERE {
  ?dataset a dcat:Dataset ;
           schema:name ?name .
  OPTIONAL { ?dataset dct:issued ?issued }
}
LIMIT 100""",
    ),
    (
        "Number of assets of every type",
        """SELECT ?type (COUNT(?asset) AS ?assets) WHERE {
  ?asset a ?type .
}
GROUP BY ?type
ORDER BY DESC(?assets)""",
    ),
    (
        "Assets per platform",
        """SELECT ?platform (COUNT(?asset) AS ?assets) WHERE {
  ?asset aiod:platform ?platform .
}
GROUP BY ?platform
ORDER BY DESC(?assets)""",
    ),
    (
        "Names containing a word",
        """SELECT ?asset ?name WHERE {
  ?asset schema:name ?name .
  FILTER(CONTAINS(LCASE(?name), "learning"))
}
LIMIT 50""",
    ),
    (
        "Datasets with a keyword",
        """SELECT ?dataset ?name WHERE {
  ?dataset a dcat:Dataset ;
           dcat:keyword "image classification" ;
           schema:name ?name .
}
LIMIT 50""",
    ),
    (
        "Datasets and their creators",
        """SELECT ?dataset ?name ?creatorName WHERE {
  ?dataset a dcat:Dataset ;
           schema:name ?name ;
           dct:creator ?creator .
  ?creator schema:name ?creatorName .
}
LIMIT 50""",
    ),
    (
        "Most recently published",
        """SELECT ?asset ?name ?issued WHERE {
  ?asset dct:issued ?issued ;
         schema:name ?name .
}
ORDER BY DESC(?issued)
LIMIT 20""",
    ),
    (
        "Everything about one dataset (DESCRIBE)",
        """DESCRIBE ?dataset WHERE {
  ?dataset a dcat:Dataset .
}
LIMIT 1""",
    ),
    (
        "Distributions of datasets (CONSTRUCT)",
        """CONSTRUCT {
  ?dataset dcat:distribution ?distribution .
  ?distribution dcat:downloadURL ?url .
} WHERE {
  ?dataset dcat:distribution ?distribution .
  ?distribution dcat:downloadURL ?url .
}
LIMIT 100""",
    ),
    (
        "Datasets used by models of a given task",
        """# fair4ml:trainedOn to a dataset of the catalog: the derived link graphs resolve what
# the model cards claim; dct:type is the model's task
SELECT ?dataset ?datasetName (COUNT(DISTINCT ?model) AS ?models) WHERE {
  ?model a fair4ml:MLModel ;
         dct:type "text-classification" ;
         fair4ml:trainedOn ?dataset .
  ?dataset a dcat:Dataset ;
           schema:name ?datasetName .
}
GROUP BY ?dataset ?datasetName
ORDER BY DESC(?models)
LIMIT 50""",
    ),
    (
        "Works on several platforms (schema:sameAs)",
        """# the same work on another platform: a shared DOI, arXiv id or canonical URL, a
# dataset derived from another platform's, or a duplicate a moderator confirmed
SELECT ?record ?platform ?other ?otherPlatform ?evidence WHERE {
  ?record schema:sameAs ?other ;
          aiod:platform ?platform .
  ?other aiod:platform ?otherPlatform .
  OPTIONAL {
    ?why rdf:subject ?record ; rdf:predicate schema:sameAs ; rdf:object ?other ;
         dct:description ?evidence .
  }
}
LIMIT 100""",
    ),
    (
        "Same name on several platforms (duplicate candidates)",
        """SELECT ?name (GROUP_CONCAT(DISTINCT ?platform; separator=", ") AS ?platforms)
       (COUNT(DISTINCT ?record) AS ?records) WHERE {
  ?record schema:name ?fullName ;
          aiod:platform ?platform .
  BIND(LCASE(REPLACE(?fullName, "^.*/", "")) AS ?name)
}
GROUP BY ?name
HAVING (COUNT(DISTINCT ?platform) > 1)
ORDER BY ?name
LIMIT 100""",
    ),
    (
        "Suggested research areas (enrichment, with provenance)",
        """SELECT ?asset ?name ?term ?score WHERE {
  ?suggestion rdf:subject ?asset ;
              rdf:predicate aiod:researchArea ;
              rdf:object ?term ;
              schema:value ?score ;
              prov:wasGeneratedBy ?activity .
  ?asset schema:name ?name .
  FILTER(STRENDS(STR(?activity), "/enrichment"))
}
ORDER BY DESC(?score)
LIMIT 50""",
    ),
    (
        "Lowest metadata quality (DQV)",
        """PREFIX dqv: <http://www.w3.org/ns/dqv#>
SELECT ?asset ?name ?score WHERE {
  ?asset dqv:hasQualityMeasurement ?measurement ;
         schema:name ?name .
  ?measurement dqv:isMeasurementOf ?metric ;
               dqv:value ?score .
  FILTER(STRENDS(STR(?metric), "#score"))
}
ORDER BY ?score
LIMIT 20""",
    ),
    (
        "Triples per asset graph",
        """SELECT ?graph (COUNT(*) AS ?triples) WHERE {
  GRAPH ?graph { ?s ?p ?o }
}
GROUP BY ?graph
LIMIT 20""",
    ),
)

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>SPARQL - aiod-kg</title>
<style>
  body { font: 15px/1.45 system-ui, sans-serif; margin: 0; color: #1d2433; background: #f6f7fb; }
  header { background: #1f3a68; color: #fff; padding: .7rem 1.2rem; }
  header a { color: #cfe0ff; }
  main { padding: 1rem 1.2rem; max-width: 1300px; }
  label { font-weight: 600; margin-right: .4rem; }
  textarea { width: 100%; box-sizing: border-box; min-height: 16rem; font: 14px/1.4 ui-monospace,
    SFMono-Regular, Menlo, Consolas, monospace; padding: .6rem; border: 1px solid #b8c0d0;
    border-radius: 4px; background: #fff; tab-size: 2; }
  .bar { display: flex; flex-wrap: wrap; gap: .6rem; align-items: center; margin: .5rem 0; }
  button { background: #1f5fbf; color: #fff; border: 0; border-radius: 4px; padding: .45rem 1.1rem;
    font-size: 15px; cursor: pointer; }
  button:disabled { background: #8aa; }
  select { padding: .3rem; }
  #status { color: #44506a; }
  #status.error { color: #b00020; white-space: pre-wrap; }
  table { border-collapse: collapse; background: #fff; margin-top: .5rem; font-size: 14px; }
  th, td { border: 1px solid #d5dae5; padding: .25rem .5rem; text-align: left; vertical-align: top;
    max-width: 40rem; overflow-wrap: anywhere; }
  th { background: #e9edf5; position: sticky; top: 0; }
  td .dt { color: #7a8399; font-size: 12px; }
  pre { background: #fff; border: 1px solid #d5dae5; padding: .6rem; overflow: auto; }
  details { margin: .4rem 0; }
  code { font-size: 13px; }
</style>
</head>
<body>
<header><strong>aiod-kg</strong> &middot; SPARQL 1.1 endpoint &middot;
  <a href="/">search</a> &middot; <a href="/share">share</a> &middot;
  <a href="/docs">API</a></header>
<main>
<p>The default graph is the union of all public assets; each asset is also a named graph
(its IRI). The prefixes below are predeclared. Press <kbd>Ctrl</kbd>+<kbd>Enter</kbd> to run.</p>
<div class="bar">
  <label for="examples">Examples</label>
  <select id="examples"></select>
</div>
<textarea id="query" spellcheck="false" aria-label="SPARQL query"></textarea>
<div class="bar">
  <button id="run" type="button">Run query</button>
  <label for="format">Show as</label>
  <select id="format">
    <option value="table">table (SELECT, ASK) / Turtle (CONSTRUCT)</option>
    <option value="application/sparql-results+json">SPARQL JSON</option>
    <option value="application/sparql-results+xml">SPARQL XML</option>
    <option value="text/csv">CSV</option>
    <option value="text/tab-separated-values">TSV</option>
    <option value="text/turtle">Turtle</option>
    <option value="application/n-triples">N-Triples</option>
    <option value="application/ld+json">JSON-LD</option>
    <option value="application/rdf+xml">RDF/XML</option>
  </select>
  <a id="link" href="#">link to this query</a>
  <span id="status" role="status"></span>
</div>
<details><summary>Predeclared prefixes</summary><pre id="prefixes"></pre></details>
<div id="results"></div>
</main>
<script>
"use strict";
const ENDPOINT = __ENDPOINT__;
const PREFIXES = __PREFIXES__;
const EXAMPLES = __EXAMPLES__;
const $ = (id) => document.getElementById(id);
const queryBox = $("query"), statusLine = $("status"), results = $("results");

$("prefixes").textContent = Object.entries(PREFIXES)
  .map(([p, ns]) => "PREFIX " + p + ": <" + ns + ">").join("\\n");
EXAMPLES.forEach(([title], i) => {
  const option = document.createElement("option");
  option.value = i; option.textContent = title; $("examples").appendChild(option);
});
$("examples").addEventListener("change", (e) => { queryBox.value = EXAMPLES[e.target.value][1]; });

function setStatus(text, error) {
  statusLine.textContent = text; statusLine.className = error ? "error" : "";
}
function compact(iri) {
  for (const [p, ns] of Object.entries(PREFIXES)) {
    if (iri.startsWith(ns) && iri.length > ns.length) return p + ":" + iri.slice(ns.length);
  }
  return iri;
}
function cell(term) {
  const td = document.createElement("td");
  if (!term) return td;
  if (term.type === "uri") {
    const a = document.createElement("a");
    a.href = term.value; a.textContent = compact(term.value); a.title = term.value;
    td.appendChild(a);
  } else {
    td.appendChild(document.createTextNode(term.type === "bnode" ? "_:" + term.value : term.value));
    const tag = term["xml:lang"] ? "@" + term["xml:lang"]
      : (term.datatype && !term.datatype.endsWith("#string") ? compact(term.datatype) : "");
    if (tag) {
      const span = document.createElement("span");
      span.className = "dt"; span.textContent = " " + tag; td.appendChild(span);
    }
  }
  return td;
}
function renderTable(data) {
  results.replaceChildren();
  if ("boolean" in data) {
    const p = document.createElement("p");
    p.textContent = "ASK: " + data.boolean; results.appendChild(p); return 1;
  }
  const vars = data.head.vars, rows = data.results.bindings;
  const table = document.createElement("table");
  const head = table.createTHead().insertRow();
  vars.forEach((v) => { const th = document.createElement("th"); th.textContent = "?" + v;
    head.appendChild(th); });
  const body = table.createTBody();
  rows.forEach((row) => { const tr = body.insertRow();
    vars.forEach((v) => tr.appendChild(cell(row[v]))); });
  results.appendChild(table);
  return rows.length;
}
function renderText(text) {
  const pre = document.createElement("pre");
  pre.textContent = text; results.replaceChildren(pre);
}
function showError(status, text) {
  let message = text;
  try {
    const detail = JSON.parse(text).detail;
    if (detail && typeof detail === "object" && detail.message) {
      message = detail.message;
      if (detail.line) {
        message += "\\n(line " + detail.line + ", column " + detail.column + ")";
        const lines = queryBox.value.split("\\n");
        let offset = 0;
        for (let i = 0; i < detail.line - 1 && i < lines.length; i++) offset += lines[i].length + 1;
        offset += Math.max(0, detail.column - 1);
        queryBox.focus(); queryBox.setSelectionRange(offset, offset + 1);
      }
    } else if (detail) { message = typeof detail === "string" ? detail : JSON.stringify(detail); }
  } catch (e) { /* not JSON: show as is */ }
  setStatus("Error " + status + ": " + message, true);
}
function updateLink() {
  $("link").href = ENDPOINT + "?query=" + encodeURIComponent(queryBox.value);
}
async function run() {
  const format = $("format").value;
  const accept = format === "table"
    ? "application/sparql-results+json, text/turtle;q=0.9" : format;
  $("run").disabled = true; setStatus("running ...");
  updateLink();
  const started = performance.now();
  try {
    const response = await fetch(ENDPOINT, {
      method: "POST",
      headers: {"Content-Type": "application/x-www-form-urlencoded", "Accept": accept},
      body: new URLSearchParams({query: queryBox.value}),
    });
    const text = await response.text();
    const ms = Math.round(performance.now() - started);
    if (!response.ok) { results.replaceChildren(); showError(response.status, text); return; }
    const type = response.headers.get("content-type") || "";
    if (format === "table" && type.startsWith("application/sparql-results+json")) {
      const n = renderTable(JSON.parse(text));
      setStatus(n + " result" + (n === 1 ? "" : "s") + " in " + ms + " ms");
    } else {
      renderText(text);
      setStatus(text.length + " bytes of " + type.split(";")[0] + " in " + ms + " ms");
    }
  } catch (e) {
    setStatus("Request failed: " + e, true);
  } finally {
    $("run").disabled = false;
  }
}
$("run").addEventListener("click", run);
queryBox.addEventListener("keydown", (e) => {
  if ((e.ctrlKey || e.metaKey) && e.key === "Enter") { e.preventDefault(); run(); }
});
queryBox.addEventListener("input", updateLink);
const given = new URLSearchParams(location.search).get("query");
queryBox.value = given || EXAMPLES[0][1];
updateLink();
if (given) run();
</script>
</body>
</html>
"""


def _js(value: object) -> str:
    """JSON safe to embed in a <script> element."""
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def editor_page(endpoint: str, prefixes: dict[str, str]) -> tuple[str, str]:
    """The page and its Content-Security-Policy (only its own inline script and style run,
    and it may only talk to its own origin)."""
    page = (
        _PAGE.replace("__ENDPOINT__", _js(endpoint))
        .replace("__PREFIXES__", _js(prefixes))
        .replace("__EXAMPLES__", _js([list(e) for e in EXAMPLES]))
    )
    script = page.split("<script>", 1)[1].split("</script>", 1)[0]
    style = page.split("<style>", 1)[1].split("</style>", 1)[0]
    policy = (
        f"default-src 'none'; script-src '{_sha256(script)}'; style-src '{_sha256(style)}'; "
        "connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    )
    return page, policy


def _sha256(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode()
