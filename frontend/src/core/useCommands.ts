// The one way components talk to the server: useCommands runs commands
// (tracks which are pending, to disable their buttons), useQuery asks
// read-only questions (history, history_summary, series) and keeps the latest
// answer; both turn every failure into a message a person can read.
//
// One module, not useQuery.ts beside it: with useQuery in a module of its
// own, shared by the Monitor page's chart and the lazily loaded History page,
// Rolldown 1.2 moves every module the pages share out of the first page's
// chunk into an extra one the first page must also fetch (+0.8 KB gzip; see
// rolldown/rolldown#10731, "module already loaded by the entry is emitted as
// a separate chunk").
import { useCallback, useEffect, useRef, useState } from 'react';
import { useSocket } from './context';
import type { CommandArgs, CommandName, CommandValue, ErrorCode } from './protocol';

export type Outcome<T> = { ok: true; value: T } | { ok: false; message: string };

/** The text to show for a failed command (server error, timeout, lost connection). */
export function errorMessage(err: unknown): string {
  if (err instanceof Error && err.message) return err.message;
  return String(err);
}

/**
 * The server's error code of a failed command (socket.ts CommandFailedError),
 * read from the error rather than by its class: importing the socket module
 * here would make Rolldown split the modules the first page shares with the
 * lazy pages into a chunk of their own (rolldown/rolldown#10731, see above).
 */
function failedCode(err: unknown): ErrorCode | null {
  return err instanceof Error && err.name === 'CommandFailedError' && 'code' in err ? (err.code as ErrorCode) : null;
}

/**
 * `run(key, name, args)` sends a command and resolves with its outcome (it
 * never rejects); `isPending(key)` is true meanwhile. Keys let one page run
 * commands for several targets at once (e.g. one per node row).
 */
export function useCommands() {
  const socket = useSocket();
  const [pending, setPending] = useState<ReadonlySet<string>>(() => new Set());

  const run = useCallback(
    async <N extends CommandName>(key: string, name: N, args: CommandArgs<N>): Promise<Outcome<CommandValue<N>>> => {
      setPending((p) => new Set(p).add(key));
      try {
        // The server sends the commander what changed right after an action's
        // result (as if it had pressed Update): no flush of its own here.
        const value = await socket.command(name, args);
        return { ok: true, value };
      } catch (err) {
        return { ok: false, message: errorMessage(err) };
      } finally {
        setPending((p) => {
          const next = new Set(p);
          next.delete(key);
          return next;
        });
      }
    },
    [socket],
  );

  const isPending = useCallback((key: string) => pending.has(key), [pending]);
  return { run, isPending };
}

/** The read-only commands (protocol.ts QUERIES). */
export type QueryName = 'history' | 'history_summary' | 'series' | 'job' | 'jobs' | 'bulk_preview' | 'bulk_outcomes' | 'alerts_history' | 'timeline' | 'node_resources';

export interface Query<T> {
  /** the last answer; kept while the next is asked and after an error; null before the first */
  value: T | null;
  /** why the last attempt failed; null once an answer arrives */
  error: string | null;
  /** the server's error code of that failure (e.g. not_found); null when none or it did not come from the server */
  code: ErrorCode | null;
  /** asks the same question again (a timer, Update, Refresh); stable */
  reload: () => void;
}

/**
 * Asks `name` with `args` on mount and whenever the arguments change (by
 * value: a new object with the same contents asks nothing); the socket sends
 * queries one at a time. Answers can
 * arrive out of order while someone types: only the latest request's answer
 * (or error) is kept, and none after unmount.
 */
export function useQuery<N extends QueryName>(name: N, args: CommandArgs<N>): Query<CommandValue<N>> {
  const socket = useSocket();
  const [value, setValue] = useState<CommandValue<N> | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [code, setCode] = useState<ErrorCode | null>(null);
  const key = JSON.stringify(args);
  const load = useRef<() => void>(() => {});

  useEffect(() => {
    let latest = 0;
    let live = true;
    const ask = () => {
      const request = ++latest;
      socket.command(name, JSON.parse(key) as CommandArgs<N>).then(
        (answer) => {
          if (!live || request !== latest) return;
          setValue(answer);
          setError(null);
          setCode(null);
        },
        (err: unknown) => {
          if (!live || request !== latest) return;
          setError(errorMessage(err));
          setCode(failedCode(err));
        },
      );
    };
    load.current = ask;
    ask();
    return () => {
      live = false; // answers to this question are no longer wanted
      load.current = () => {};
    };
  }, [socket, name, key]);

  const reload = useCallback(() => load.current(), []);
  return { value, error, code, reload };
}
