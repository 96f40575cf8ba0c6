/** `jabmon module keygen|sign` and publish's pre-flight checks, on real files (no server needed). */
import { execFile } from "node:child_process";
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { readSigned, sign } from "../../src/cli/module.js";
import { verifyModule } from "../../src/modules/index.js";
import { CLI } from "../helpers/stack.js";

const exec = promisify(execFile);
const work = mkdtempSync(join(tmpdir(), "jabmon-modcli-"));
const keyFile = join(work, "k.key");
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function keygen() {
  const { stdout } = await exec(process.execPath, [CLI, "module", "keygen", "--out", keyFile]);
  return (stdout.match(/trustedKeys\): (\S+)/) as RegExpMatchArray)[1] as string;
}

function moduleDir(manifest: Record<string, unknown> | string) {
  const dir = mkdtempSync(join(work, "m-"));
  mkdirSync(join(dir, "plugins"));
  writeFileSync(join(dir, "plugins", "check_x"), "#!/bin/sh\necho OK\n");
  chmodSync(join(dir, "plugins", "check_x"), 0o755);
  writeFileSync(
    join(dir, "module.json"),
    typeof manifest === "string" ? manifest : JSON.stringify(manifest),
  );
  return dir;
}

const good = {
  name: "cli-mod",
  version: 3,
  target: { groups: ["web"] },
  checks: [{ type: "nagios", name: "x", command: "plugins/check_x" }],
};

describe("jabmon module", () => {
  it("keygen writes a 0600 private key; sign hashes every file and signs it with that key", async () => {
    const publicKey = await keygen();
    expect(readFileSync(`${keyFile}.pub`, "utf8").trim()).toBe(publicKey);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    const dir = moduleDir(good);
    const { stdout } = await exec(process.execPath, [CLI, "module", "sign", dir, "--key", keyFile]);
    expect(stdout).toMatch(/signed cli-mod v3 \(1 files\)/);
    const module = verifyModule(readSigned(dir), [publicKey], "0.1.0");
    expect(module.manifest.files["plugins/check_x"]?.mode).toBe(0o755);
    // A file changed after signing: publish refuses it before any network.
    writeFileSync(join(dir, "plugins", "check_x"), "#!/bin/sh\necho changed\n");
    expect(() => readSigned(dir)).toThrow(
      "plugins/check_x: changed since the module was signed; sign it again",
    );
  });

  it("names the file or field at fault, without a stack trace", async () => {
    const missing = mkdtempSync(join(work, "empty-"));
    expect(() => sign(missing, keyFile)).toThrow(
      `${join(missing, "module.json")}: cannot read (ENOENT)`,
    );
    expect(() => sign(moduleDir("{ nope"), keyFile)).toThrow(/module\.json: not JSON/);
    expect(() => sign(moduleDir({ ...good, version: "3" }), keyFile)).toThrow(
      /module\.json: version: is required: an integer/,
    );
    expect(() => sign(moduleDir({ ...good, target: { groups: [] } }), keyFile)).toThrow(
      /module\.json: target: names no group/,
    );
    expect(() =>
      sign(
        moduleDir({ ...good, checks: [{ type: "nagios", name: "y", command: "plugins/absent" }] }),
        keyFile,
      ),
    ).toThrow(/checks\.0\.command: plugins\/absent is not a file/);
    expect(() => readSigned(moduleDir(good))).toThrow(
      /signed\.xml: missing; run jabmon module sign/,
    );
    const failed = await exec(process.execPath, [
      CLI,
      "module",
      "sign",
      moduleDir({ ...good, name: "Bad Name" }),
      "--key",
      keyFile,
    ]).catch((err: { code: number; stderr: string }) => err);
    expect(failed).toMatchObject({ code: 1 });
    expect((failed as { stderr: string }).stderr).toMatch(
      /^jabmon: .*module\.json: name: is required: 1-63 of a-z/,
    );
    expect((failed as { stderr: string }).stderr).not.toMatch(/\n\s+at /);
  });
});
