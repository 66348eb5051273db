// The config file, through conf: one entry per server URL with its token and username.
import { chmodSync, mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import Conf from 'conf';

interface ServerEntry {
  token: string;
  username: string;
}

interface Stored {
  lastServer?: string;
  servers: Record<string, ServerEntry>;
}

export const DEFAULT_SERVER = 'http://127.0.0.1:4000';

export class ConfigStore {
  private readonly conf: Conf<Stored>;
  /** Set when the file was found with looser permissions and was fixed. */
  readonly permissionsFixed: string | undefined;

  constructor(configDir: string | undefined) {
    if (configDir) mkdirSync(configDir, { recursive: true, mode: 0o700 });
    this.conf = new Conf<Stored>({
      projectName: 'taskmaster',
      projectSuffix: '',
      configName: 'config',
      ...(configDir ? { cwd: configDir } : {}),
      defaults: { servers: {} },
      // URLs hold dots: keys are plain keys, not paths.
      accessPropertiesByDotNotation: false,
      // conf's own default is 0666: the file holds session tokens.
      configFileMode: 0o600,
      clearInvalidConfig: true,
    });
    this.permissionsFixed = this.tightenPermissions();
  }

  get path(): string {
    return this.conf.path;
  }

  /** The server to talk to: the flag or TASKMASTER_SERVER, else the last login's, else the default. */
  resolveServer(explicit: string | undefined): string {
    return normalizeServer(explicit ?? this.conf.get('lastServer') ?? DEFAULT_SERVER);
  }

  entry(server: string): ServerEntry | undefined {
    return this.conf.get('servers')[server];
  }

  saveLogin(server: string, entry: ServerEntry): void {
    this.conf.set({ servers: { ...this.conf.get('servers'), [server]: entry }, lastServer: server });
    this.tightenPermissions();
  }

  updateUsername(server: string, username: string): void {
    const current = this.entry(server);
    if (current) this.conf.set('servers', { ...this.conf.get('servers'), [server]: { ...current, username } });
  }

  /** Forgets the server's entry; true when there was one. */
  forget(server: string): boolean {
    const servers = { ...this.conf.get('servers') };
    if (!(server in servers)) return false;
    delete servers[server];
    this.conf.set('servers', servers);
    return true;
  }

  private tightenPermissions(): string | undefined {
    let fixed: string | undefined;
    try {
      const dir = dirname(this.conf.path);
      if ((statSync(dir).mode & 0o077) !== 0) chmodSync(dir, 0o700);
      const mode = statSync(this.conf.path).mode & 0o777;
      if (mode !== 0o600) {
        chmodSync(this.conf.path, 0o600);
        fixed = `The config file ${this.conf.path} was readable by others (mode ${mode.toString(8).padStart(4, '0')}); it is now 0600.`;
      }
    } catch {
      // no file yet: conf writes it with 0600
    }
    return fixed;
  }
}

export function normalizeServer(url: string): string {
  return url.trim().replace(/\/+$/, '');
}
