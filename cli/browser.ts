// Opening a page in the user's browser, only where one can open: a desktop session here, not a
// shell over SSH (the browser would open on the far machine, or fail). gh and npm learned this
// the hard way (cli/cli#5500, #10341): the URL is always printed, the browser is a convenience.
import { spawn } from 'node:child_process';

/** Why no browser is opened here, or undefined when one may be. */
export function noBrowserReason(env: Record<string, string | undefined>, platform: NodeJS.Platform = process.platform): string | undefined {
  if (env.SSH_CONNECTION || env.SSH_TTY || env.SSH_CLIENT) return 'this is an SSH session';
  if (platform === 'darwin' || platform === 'win32') return undefined;
  if (!env.DISPLAY && !env.WAYLAND_DISPLAY) return 'there is no display (DISPLAY and WAYLAND_DISPLAY are unset)';
  return undefined;
}

/** The platform's opener: `open` on macOS, the URL protocol handler on Windows, `xdg-open` elsewhere. */
function opener(url: string, platform: NodeJS.Platform): [string, string[]] {
  if (platform === 'darwin') return ['open', [url]];
  // Not `cmd /c start`: cmd would parse the URL's & | ^ as its own syntax. rundll32 hands it to the
  // default browser as one argument.
  if (platform === 'win32') return ['rundll32', ['url.dll,FileProtocolHandler', url]];
  return ['xdg-open', [url]];
}

/** Starts the opener and lets it go; resolves true once it started, false when it could not. */
export function openBrowser(url: string, env: Record<string, string | undefined>, platform: NodeJS.Platform = process.platform): Promise<boolean> {
  const [command, args] = opener(url, platform);
  return new Promise((resolve) => {
    try {
      const child = spawn(command, args, { env: env as NodeJS.ProcessEnv, stdio: 'ignore', detached: true, windowsHide: true });
      child.once('error', () => resolve(false));
      child.once('spawn', () => {
        child.unref();
        resolve(true);
      });
    } catch {
      resolve(false);
    }
  });
}
