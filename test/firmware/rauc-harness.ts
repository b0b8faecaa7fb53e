/**
 * Real RAUC on the host for the firmware tests: development keys (scripts/firmware-keys.sh), SquashFS root images
 * shaped like the image's root slot, bundles made by scripts/update-bundle.sh, and RAUC's service on a private
 * D-Bus bus (dbus-daemon with its own config; DBUS_STARTER_BUS_TYPE=session points the rauc CLI at it) over a
 * system.conf whose slots are plain files and whose boot loader is rootfs/usr/lib/sbd/bin/rauc-bootloader on an ESP
 * folder. Plain-format bundles here: a container has no device-mapper for verity bundles (the image uses verity).
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

export const REPO = join(import.meta.dirname, '../..');
const BIN = join(REPO, 'rootfs/usr/lib/sbd/bin');

export interface Keys {
  key: string;
  cert: string;
  keyring: string;
}

const made: string[] = [];

/** A new temporary folder, removed by removeTempDirs() (each test file's after()). */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `sbd-${prefix}-`));
  made.push(dir);
  return dir;
}

export function removeTempDirs(): void {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
}

/** A development CA + signing key, made by the script `make update-bundle` uses. */
export function makeKeys(dir: string): Keys {
  const out = execFileSync(join(REPO, 'scripts/firmware-keys.sh'), { env: { ...process.env, FIRMWARE_KEY_DIR: dir }, encoding: 'utf8' });
  const v = Object.fromEntries(
    out
      .trim()
      .split('\n')
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
  return { key: v.FIRMWARE_KEY!, cert: v.FIRMWARE_CERT!, keyring: v.FIRMWARE_KEYRING! };
}

/** SBD_IMAGE_DIR/x86_64 holding root.img (SquashFS: firmware-version, boot/vmlinuz, boot/initrd.img) + firmware-version. */
export function makeImage(version: string): { imageDir: string; kernel: Buffer; initrd: Buffer } {
  const imageDir = tempDir('fw-image');
  const tree = join(imageDir, 'tree');
  mkdirSync(join(tree, 'usr/lib/sbd/boot'), { recursive: true });
  const kernel = randomBytes(64 * 1024);
  const initrd = randomBytes(32 * 1024);
  writeFileSync(join(tree, 'usr/lib/sbd/boot/vmlinuz'), kernel);
  writeFileSync(join(tree, 'usr/lib/sbd/boot/initrd.img'), initrd);
  writeFileSync(join(tree, 'usr/lib/sbd/firmware-version'), `${version}\n`);
  const out = join(imageDir, 'x86_64');
  mkdirSync(out);
  execFileSync('mksquashfs', [tree, join(out, 'root.img'), '-quiet', '-noappend', '-all-root'], { stdio: 'ignore' });
  writeFileSync(join(out, 'firmware-version'), `${version}\n`);
  return { imageDir, kernel, initrd };
}

/** scripts/update-bundle.sh x86_64 OUT with the given keys; the script's exit status and output. */
export function updateBundle(imageDir: string, keyDir: string, out: string, format: 'plain' | 'verity', extraEnv: NodeJS.ProcessEnv = {}) {
  return spawnSync(join(REPO, 'scripts/update-bundle.sh'), ['x86_64', out], {
    env: { ...process.env, SBD_IMAGE_DIR: imageDir, FIRMWARE_KEY_DIR: keyDir, BUNDLE_FORMAT: format, ...extraEnv },
    encoding: 'utf8',
  });
}

export interface RaucSystem {
  dir: string;
  esp: string;
  firmwareDir: string;
  slots: { a: string; b: string };
  /** Environment for the rauc CLI (and Rauc's `env`): the private bus. */
  env: NodeJS.ProcessEnv;
  /** Restarts RAUC's service as if the machine had booted `slot` (--override-boot-slot). */
  boot(slot: 'a' | 'b'): Promise<void>;
  stop(): void;
}

const BUS_CONF = (socket: string) => `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><type>session</type><listen>unix:path=${socket}</listen>
<policy context="default"><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/><allow own="*"/><allow user="*"/></policy></busconfig>
`;

/** A running RAUC service over file slots of `slotBytes` each and an ESP with the two entries. */
export async function startRauc(keyring: string, options: { slotBytes?: number; formats?: string } = {}): Promise<RaucSystem> {
  const dir = tempDir('rauc');
  const esp = join(dir, 'esp');
  mkdirSync(join(esp, 'loader/entries'), { recursive: true });
  writeFileSync(join(esp, 'loader/loader.conf'), 'default sbd-*\ntimeout 0\neditor no\n');
  writeFileSync(join(esp, 'loader/entries/sbd-a.conf'), 'title sbd a\nlinux /sbd/a/vmlinuz\nsort-key sbd-0\n');
  writeFileSync(join(esp, 'loader/entries/sbd-b.conf'), 'title sbd b\nlinux /sbd/b/vmlinuz\nsort-key sbd-1\n');
  const slots = { a: join(dir, 'slot-a'), b: join(dir, 'slot-b') };
  for (const f of Object.values(slots)) {
    writeFileSync(f, '');
    truncateSync(f, options.slotBytes ?? 8 << 20);
  }
  const firmwareDir = join(dir, 'firmware');
  mkdirSync(firmwareDir);
  mkdirSync(join(dir, 'mnt'));
  writeFileSync(
    join(dir, 'system.conf'),
    `[system]
compatible=sbd-x86_64
bootloader=custom
bundle-formats=${options.formats ?? 'plain'}
data-directory=${join(dir, 'data')}
mountprefix=${join(dir, 'mnt')}

[keyring]
path=${keyring}
check-purpose=codesign

[handlers]
bootloader-custom-backend=${join(BIN, 'rauc-bootloader')}

[slot.rootfs.0]
device=${slots.a}
type=raw
bootname=a

[slot.rootfs.1]
device=${slots.b}
type=raw
bootname=b
`,
  );
  const socket = join(dir, 'bus');
  writeFileSync(join(dir, 'bus.conf'), BUS_CONF(socket));
  const bus = spawn('dbus-daemon', [`--config-file=${join(dir, 'bus.conf')}`, '--nofork', '--nopidfile'], { stdio: 'ignore' });
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DBUS_SESSION_BUS_ADDRESS: `unix:path=${socket}`,
    DBUS_STARTER_BUS_TYPE: 'session',
    SBD_ESP: esp,
    SBD_FIRMWARE_DIR: firmwareDir,
  };
  let service: ChildProcess | undefined;
  const stopService = async () => {
    if (!service || service.exitCode !== null) return;
    const done = new Promise((r) => service!.once('exit', r));
    service.kill('SIGTERM');
    await done;
  };
  const system: RaucSystem = {
    dir,
    esp,
    firmwareDir,
    slots,
    env,
    async boot(slot) {
      await stopService();
      // The bus first: a rauc service started before dbus-daemon listens exits at once (seen on a loaded CI run).
      for (let i = 0; i < 200 && !existsSync(socket); i++) await new Promise((r) => setTimeout(r, 100));
      if (!existsSync(socket)) throw new Error(`dbus-daemon made no socket at ${socket}`);
      let stderr = '';
      for (let start = 0; start < 3; start++) {
        const s = spawn('rauc', [`--conf=${join(dir, 'system.conf')}`, 'service', `--override-boot-slot=${slot}`], {
          env,
          stdio: ['ignore', 'ignore', 'pipe'],
        });
        service = s;
        s.stderr?.on('data', (d: Buffer) => {
          stderr += d.toString();
        });
        // Ready once it answers on the bus (bounded by attempts, not by time); started again if it exited.
        for (let i = 0; i < 200 && s.exitCode === null && s.signalCode === null; i++) {
          if (spawnSync('rauc', ['status', '--output-format=json'], { env, stdio: 'ignore', timeout: 10_000 }).status === 0) return;
          await new Promise((r) => setTimeout(r, 100));
        }
        if (s.exitCode === null && s.signalCode === null) break;
      }
      throw new Error(`rauc service did not answer on the private bus; it said:\n${stderr.slice(-2000)}`);
    },
    stop() {
      service?.kill('SIGKILL');
      bus.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await system.boot('a');
  return system;
}
