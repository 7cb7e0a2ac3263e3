// Progress for the CLI: a redrawn status line on a terminal, plain log lines otherwise.

import type { RunProgress } from '../core/run';

export interface ProgressDisplay {
  log(message: string): void;
  update(progress: RunProgress): void;
  done(): void;
}

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

export function createProgressDisplay(stream: NodeJS.WriteStream, quiet = false): ProgressDisplay {
  if (quiet) return { log: () => undefined, update: () => undefined, done: () => undefined };
  if (!stream.isTTY) {
    return {
      log: (message) => stream.write(`${new Date().toISOString()} ${message}\n`),
      update: () => undefined,
      done: () => undefined,
    };
  }
  let frame = 0;
  let line = '';
  const redraw = () => stream.write(`\r\x1b[2K${line}`);
  return {
    log: (message) => {
      // Keep only warnings and retries above the status line; page-by-page lines are the bar's job.
      if (/^Read page /.test(message)) return;
      stream.write(`\r\x1b[2K${message}\n`);
      if (line) redraw();
    },
    update: (p) => {
      frame = (frame + 1) % SPINNER.length;
      const width = 24;
      const filled = Math.min(width, p.pagesRead % (width + 1));
      const bar = `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
      line = `${SPINNER[frame]} auditing ${bar} ${p.pagesRead} pages · ${p.clustersRead.toLocaleString('en-US')} clusters · ${p.poolsJudged.toLocaleString('en-US')} pools`;
      redraw();
    },
    done: () => {
      if (line) stream.write('\r\x1b[2K');
      line = '';
    },
  };
}
