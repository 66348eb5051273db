// The config file: one entry per server URL with its token and username.
// Written through conf (atomic writes, mode 0600). Read directly: conf validates with ajv, whose
// load costs more than a whole `taskmaster whoami` should, and reads need none of it.
import { chmodSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import envPaths from 'env-paths';

interface ServerEntry {
  token: string;
  username: string;
}

interface Stored {
  lastServer?: string;
  servers: Record<string, ServerEntry>;
  /** Per server, the device token of this machine: kept across logouts (it names the device, not a session). */
  devices?: Record<string, string>;
}

export const DEFAULT_SERVER = 'http://127.0.0.1:4000';
const PROJECT = 'taskmaster';
const FILE = 'config.json';

export class ConfigStore {
  readonly dir: string;
  readonly path: string;
  /** Set when the file was found with looser permissions and was fixed. */
  readonly permissionsFixed: string | undefined;
  private data: Stored;

  constructor(configDir: string | undefined) {
    // The same folder conf picks for projectName 'taskmaster' with no suffix.
    this.dir = configDir ?? envPaths(PROJECT, { suffix: '' }).config;
    this.path = join(this.dir, FILE);
    this.permissionsFixed = this.tightenPermissions();
    this.data = this.read();
  }

  /** The server to talk to: the flag or TASKMASTER_SERVER, else the last login's, else the default. */
  resolveServer(explicit: string | undefined): string {
    return normalizeServer(explicit ?? this.data.lastServer ?? DEFAULT_SERVER);
  }

  entry(server: string): ServerEntry | undefined {
    return this.data.servers[server];
  }

  deviceToken(server: string): string | undefined {
    return this.data.devices?.[server];
  }

  async saveLogin(server: string, entry: ServerEntry, deviceToken?: string): Promise<void> {
    const devices = deviceToken ? { ...this.data.devices, [server]: deviceToken } : this.data.devices;
    await this.write({ servers: { ...this.data.servers, [server]: entry }, lastServer: server, ...(devices ? { devices } : {}) });
  }

  async updateUsername(server: string, username: string): Promise<void> {
    const current = this.entry(server);
    if (current) await this.write({ ...this.data, servers: { ...this.data.servers, [server]: { ...current, username } } });
  }

  /** Forgets the server's entry; true when there was one. */
  async forget(server: string): Promise<boolean> {
    if (!(server in this.data.servers)) return false;
    const servers = { ...this.data.servers };
    delete servers[server];
    await this.write({ ...this.data, servers });
    return true;
  }

  private read(): Stored {
    try {
      const parsed = JSON.parse(readFileSync(this.path, 'utf8')) as Partial<Stored>;
      const servers = parsed.servers && typeof parsed.servers === 'object' ? parsed.servers : {};
      const devices = parsed.devices && typeof parsed.devices === 'object' ? { devices: parsed.devices } : {};
      return { servers, ...devices, ...(typeof parsed.lastServer === 'string' ? { lastServer: parsed.lastServer } : {}) };
    } catch {
      return { servers: {} }; // no file yet, or not ours: start empty (conf would do the same)
    }
  }

  private async write(next: Stored): Promise<void> {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const { default: Conf } = await import('conf');
    const conf = new Conf<Stored>({
      projectName: PROJECT,
      projectSuffix: '',
      configName: 'config',
      cwd: this.dir,
      defaults: { servers: {} },
      // URLs hold dots: keys are plain keys, not paths.
      accessPropertiesByDotNotation: false,
      // conf's own default is 0666: the file holds session tokens.
      configFileMode: 0o600,
      clearInvalidConfig: true,
    });
    conf.store = next;
    this.data = next;
    this.tightenPermissions();
  }

  private tightenPermissions(): string | undefined {
    let fixed: string | undefined;
    try {
      if ((statSync(this.dir).mode & 0o077) !== 0) chmodSync(this.dir, 0o700);
      const mode = statSync(this.path).mode & 0o777;
      if (mode !== 0o600) {
        chmodSync(this.path, 0o600);
        fixed = `The config file ${this.path} was readable by others (mode ${mode.toString(8).padStart(4, '0')}); it is now 0600.`;
      }
    } catch {
      // no folder or file yet: they are created 0700 and 0600
    }
    return fixed;
  }
}

export function normalizeServer(url: string): string {
  return url.trim().replace(/\/+$/, '');
}
