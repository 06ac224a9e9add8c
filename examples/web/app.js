// The page's one script: upload every chosen file with a progress bar, follow each execution
// live to COMPLETED, mash the uploaded files, and list the mash's records. It reads the API's
// endpoint and token from the form (prefilled from `?api=...&token=...`).
import { ExperiencePlaneClient, ExperiencePlaneError } from "@experience-plane/client";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
$("api-url").value = params.get("api") ?? "http://127.0.0.1:8000/graphql";
$("token").value = params.get("token") ?? "";

function cell(row, content) {
  const td = document.createElement("td");
  if (content instanceof Node) td.append(content);
  else td.textContent = content ?? "";
  row.append(td);
  return td;
}

function showStatus(element, execution) {
  const progress = execution.progress ? ` (${execution.progress.phase} ${Math.round(execution.progress.percent)}%)` : "";
  element.textContent = execution.state + progress;
  element.dataset.state = execution.state;
  // A stale status is the last one known while the Runtime is not answering: not a failure.
  element.title = execution.stale ? `stale: ${execution.staleReason ?? "the Runtime is not answering"}` : "";
}

async function follow(client, execution, stateElement, staleElement) {
  showStatus(stateElement, execution);
  let last = execution;
  for await (const status of client.watchExecution(execution.executionId)) {
    showStatus(stateElement, status);
    if (staleElement) staleElement.textContent = status.stale ? "(stale: the Runtime is not answering)" : "";
    last = status;
  }
  if (last.state !== "COMPLETED") {
    const failure = last.failure ? `${last.failure.code}: ${last.failure.message}` : "";
    throw new Error(`${execution.executionId} ended ${last.state}: ${failure}`);
  }
  return last;
}

async function upload(client, file) {
  const row = document.createElement("tr");
  row.className = "upload";
  cell(row, file.name);
  const bar = document.createElement("progress");
  bar.max = 1;
  bar.value = 0;
  cell(row, bar);
  const idCell = cell(row, "");
  const state = cell(row, "uploading");
  state.className = "state";
  $("uploads").append(row);
  const execution = await client.uploadContent(file, {
    onProgress: ({ loaded, total }) => {
      bar.max = total;
      bar.value = loaded;
    },
  });
  bar.value = bar.max;
  idCell.textContent = execution.executionId;
  const done = await follow(client, execution, state);
  return done.artifacts.find((artifact) => artifact.__typename === "ContentFile");
}

function showRecords(records) {
  const table = $("records");
  table.replaceChildren();
  const fields = [...new Set(records.flatMap((record) => Object.keys(record)))];
  const head = document.createElement("tr");
  for (const field of fields) {
    const th = document.createElement("th");
    th.textContent = field;
    head.append(th);
  }
  table.append(head);
  for (const record of records) {
    const row = document.createElement("tr");
    row.className = "record";
    for (const field of fields) cell(row, record[field] == null ? "" : String(record[field]));
    table.append(row);
  }
}

async function run() {
  $("error").textContent = "";
  document.body.dataset.status = "running";
  const files = [...$("files").files];
  if (files.length === 0) throw new Error("Choose one or more files first.");
  const token = $("token").value.trim();
  const client = new ExperiencePlaneClient({ url: $("api-url").value.trim(), getToken: () => token });
  try {
    const uploaded = await Promise.all(files.map((file) => upload(client, file)));
    const mash = await client.createDataMash({
      contentRefs: uploaded.map((file) => file.fileId),
      name: files.map((file) => file.name).join(" + "),
    });
    await follow(client, mash, $("mash-state"), $("mash-stale"));
    const records = [];
    for await (const record of client.mashRecords(mash.executionId, { pageSize: 50 })) records.push(record);
    showRecords(records);
    document.body.dataset.status = "done";
  } finally {
    await client.close();
  }
}

$("start").addEventListener("click", () => {
  run().catch((error) => {
    const code = error instanceof ExperiencePlaneError ? `${error.code}: ` : "";
    $("error").textContent = code + error.message;
    document.body.dataset.status = "failed";
  });
});
