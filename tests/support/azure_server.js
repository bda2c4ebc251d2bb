// Azure Blob Storage server for Strata's tests: Azurite's blob service on a free port of
// 127.0.0.1, in a temporary directory of its own, checking Shared Key signatures (requests signed
// with a wrong key are refused, as on Azure).
//
// Run by tests/support/azure.rs with node, given the path of Azurite's `azurite-blob` script that
// scripts/setup-test-env.sh installs. Prints one line
//
//     READY <port> <account name> <account key>
//
// then reads commands from standard input, one per line, and answers each with one line:
//
//     container NAME   creates the container      -> "ok" or "error <reason>"
//
// It stops Azurite, removes the directory and exits when standard input closes, i.e. when the
// test process that started it is gone.

"use strict";

const { spawn } = require("child_process");
const crypto = require("crypto");
const fs = require("fs");
const http = require("http");
const os = require("os");
const path = require("path");
const readline = require("readline");

// The account Azurite serves by default, and its published key.
const ACCOUNT = "devstoreaccount1";
const KEY =
  "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
const API_VERSION = "2021-08-06";

const azuriteBlob = process.argv[2];
if (!azuriteBlob) {
  console.error("usage: node azure_server.js PATH/TO/azurite-blob");
  process.exit(2);
}
const workspace = fs.mkdtempSync(path.join(os.tmpdir(), "strata-azurite-"));

const azurite = spawn(
  process.execPath,
  [
    azuriteBlob,
    "--blobHost", "127.0.0.1",
    "--blobPort", "0",
    "--location", workspace,
    "--silent",
    "--disableTelemetry",
    "--skipApiVersionCheck",
  ],
  { stdio: ["ignore", "pipe", "inherit"] },
);

let stopping = false;
function stop(code) {
  if (stopping) return;
  stopping = true;
  azurite.kill("SIGTERM");
  // Azurite closes its files quickly; do not wait forever for it.
  const timer = setTimeout(() => finish(code), 3000);
  azurite.once("exit", () => {
    clearTimeout(timer);
    finish(code);
  });
}

function finish(code) {
  fs.rmSync(workspace, { recursive: true, force: true });
  process.exit(code);
}

azurite.on("exit", (code) => {
  if (!stopping) {
    console.error(`Azurite exited (code ${code}) before the tests ended`);
    fs.rmSync(workspace, { recursive: true, force: true });
    process.exit(1);
  }
});

let port = null;
readline.createInterface({ input: azurite.stdout }).on("line", (line) => {
  const listening = line.match(/listens on http:\/\/127\.0\.0\.1:(\d+)/);
  if (port === null && listening) {
    port = Number(listening[1]);
    console.log(`READY ${port} ${ACCOUNT} ${KEY}`);
    serveCommands();
  }
});

function serveCommands() {
  const commands = readline.createInterface({ input: process.stdin });
  // One command at a time, answers in order.
  let queue = Promise.resolve();
  commands.on("line", (line) => {
    queue = queue.then(() => run(line.trim().split(/\s+/)));
  });
  commands.on("close", () => queue.then(() => stop(0)));
}

async function run(words) {
  try {
    if (words.length === 2 && words[0] === "container") {
      await createContainer(words[1]);
      console.log("ok");
    } else {
      console.log(`error unknown command ${JSON.stringify(words.join(" "))}`);
    }
  } catch (e) {
    console.log(`error ${String(e.message || e).replace(/\n/g, " ")}`);
  }
}

// PUT /account/NAME?restype=container, signed with the account key (Shared Key).
function createContainer(name) {
  const date = new Date().toUTCString();
  const resourcePath = `/${ACCOUNT}/${name}`;
  const stringToSign = [
    "PUT",
    "", // Content-Encoding
    "", // Content-Language
    "", // Content-Length (empty for 0)
    "", // Content-MD5
    "", // Content-Type
    "", // Date (x-ms-date is used)
    "", // If-Modified-Since
    "", // If-Match
    "", // If-None-Match
    "", // If-Unmodified-Since
    "", // Range
    `x-ms-date:${date}\nx-ms-version:${API_VERSION}\n/${ACCOUNT}${resourcePath}\nrestype:container`,
  ].join("\n");
  const signature = crypto
    .createHmac("sha256", Buffer.from(KEY, "base64"))
    .update(stringToSign, "utf8")
    .digest("base64");
  return new Promise((resolve, reject) => {
    const request = http.request(
      {
        host: "127.0.0.1",
        port,
        method: "PUT",
        path: `${resourcePath}?restype=container`,
        headers: {
          "x-ms-date": date,
          "x-ms-version": API_VERSION,
          "Content-Length": "0",
          Authorization: `SharedKey ${ACCOUNT}:${signature}`,
        },
      },
      (response) => {
        let body = "";
        response.on("data", (chunk) => (body += chunk));
        response.on("end", () =>
          response.statusCode === 201
            ? resolve()
            : reject(new Error(`${response.statusCode} ${body}`)),
        );
      },
    );
    request.on("error", reject);
    request.end();
  });
}
