// Builds build/order_status.wasm from plugin.js with componentize-js (package.json pins it).
import { mkdir, writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import { _addPreopen } from "@bytecodealliance/preview2-shim/filesystem";
import { componentize } from "@bytecodealliance/componentize-js";

const wit = resolve("../../../plugin-sdk/wit");
// componentize-js reads the WIT from inside a WASI sandbox (preview2-shim), which since
// preview2-shim 0.26 opens no directory unless told: open the WIT's, and only it.
_addPreopen(wit, wit);

const { component } = await componentize({
  sourcePath: "plugin.js",
  witPath: wit,
  worldName: "mutator-plugin",
  // The plugin prints nothing, reads no clock and draws from forge's random source only:
  // leave out the WASI those would import.
  disableFeatures: ["stdio", "random", "clocks", "http", "fetch-event"],
});
await mkdir("build", { recursive: true });
await writeFile("build/order_status.wasm", component);
