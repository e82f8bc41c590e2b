// `npm pack` (and `npm publish`) from a fresh clone: installs the locked dev dependencies when tsc is not there yet,
// then builds dist/, so the tarball always carries a build of the committed sources.
import { execSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const packageDirectory = join(dirname(fileURLToPath(import.meta.url)), "..");
const run = (command) => execSync(command, { cwd: packageDirectory, stdio: "inherit" });
if (!existsSync(join(packageDirectory, "node_modules", "typescript", "bin", "tsc"))) {
  run("npm ci --no-audit --no-fund");
}
run("node node_modules/typescript/bin/tsc -p tsconfig.json");
