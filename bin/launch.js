// Runs a command's entry point in a child Node process whose stderr passes through a filter
// that drops Dawn's two limit warnings. Dawn writes them from native code straight to fd 2
// while the adapter is requested, so no JavaScript in that process can silence them.
// Everything else is forwarded unchanged, as it comes (a progress bar draws without newlines).
import { spawn } from 'node:child_process';
import { constants } from 'node:os';

/** Exactly the lines Dawn prints for lavapipe's (and other drivers') huge dynamic-buffer limits. */
export const DAWN_WARNING =
  /^Warning: maxDynamic(Uniform|Storage)BuffersPerPipelineLayout artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit\.\r?$/;
const WARNING_START = 'Warning: maxDynamic';

/**
 * A line filter that holds back text only while it may still become a warning line: a line
 * start that is a prefix of 'Warning: maxDynamic', or a line that begins with it and has not ended.
 */
export function stderrFilter(write) {
  let held = ''; // the start of the current line, not yet forwarded
  let passing = false; // part of the current line has been forwarded: forward the rest as is
  const maybeWarning = (s) => WARNING_START.startsWith(s) || s.startsWith(WARNING_START);
  return {
    push(text) {
      let out = '';
      let at = 0;
      while (at < text.length) {
        const nl = text.indexOf('\n', at);
        const piece = text.slice(at, nl < 0 ? text.length : nl + 1);
        at += piece.length;
        if (passing) {
          out += piece;
        } else {
          held += piece;
          if (nl >= 0) {
            if (!DAWN_WARNING.test(held.slice(0, -1))) out += held;
            held = '';
          } else if (!maybeWarning(held)) {
            out += held;
            held = '';
            passing = true;
          }
          continue;
        }
        if (nl >= 0) passing = false;
      }
      if (out) write(out);
    },
    end() {
      if (held && !DAWN_WARNING.test(held)) write(held);
      held = '';
    },
  };
}

const FORWARDED = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/**
 * `node <args>` with stderr filtered; exits with the child's code. The child gets its own
 * session, so a terminal's Ctrl-C reaches it once, through here, not twice (from the terminal and
 * from here): the trainer takes a second SIGINT as "quit without saving". Signals go to the
 * child's whole process group, as a terminal's would (`cgan ablation` runs trainers below it).
 * A signal repeated within 200 ms (npm forwards the terminal's SIGINT to its script as well) is
 * forwarded once.
 */
export function runNode(args) {
  const env = { ...process.env };
  // The trainer draws its progress bar only on a terminal: tell it that its stderr ends on one.
  if (process.stderr.isTTY) env.CGAN_STDERR_COLUMNS = String(process.stderr.columns || 80);
  const child = spawn(process.execPath, args, {
    stdio: ['inherit', 'inherit', 'pipe'],
    env,
    detached: process.platform !== 'win32',
  });
  const signal = (name) => {
    try {
      if (process.platform === 'win32') child.kill(name);
      else process.kill(-child.pid, name);
    } catch {
      // the group is gone already
    }
  };
  const filter = stderrFilter((s) => process.stderr.write(s));
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (s) => filter.push(s));
  child.stderr.on('end', () => filter.end());

  const last = {};
  for (const name of FORWARDED) {
    process.on(name, () => {
      const now = Date.now();
      if (now - (last[name] ?? -Infinity) < 200) return;
      last[name] = now;
      signal(name);
    });
  }
  // Ctrl-Z stops this process only; stop and continue the child with it. SIGSTOP, as the kernel
  // drops SIGTSTP for a process group with no terminal of its own.
  if (process.platform !== 'win32') {
    process.on('SIGTSTP', () => {
      signal('SIGSTOP');
      process.kill(process.pid, 'SIGSTOP');
    });
    process.on('SIGCONT', () => signal('SIGCONT'));
  }

  child.on('error', (err) => {
    process.stderr.write(`cgan: cannot start ${process.execPath}: ${err.message}\n`);
    process.exit(1);
  });
  child.on('close', (code, killedBy) => {
    process.exitCode = code ?? 128 + (constants.signals[killedBy] ?? 0);
    process.exit();
  });
}
