// Runs a read-only query (history, history_summary, series) from a
// component: the one way pages ask the server a question. The socket sends
// queries one at a time (the server answers them in turn); this hook keeps
// the latest question's answer.
import { useCallback, useEffect, useRef, useState } from 'react';
import { useSocket } from './context';
import type { CommandArgs, CommandValue } from './protocol';
import { errorMessage } from './useCommands';

/** The read-only commands (protocol.ts QUERIES). */
export type QueryName = 'history' | 'history_summary' | 'series';

export interface Query<T> {
  /** the last answer; kept while the next is asked and after an error; null before the first */
  value: T | null;
  /** why the last attempt failed; null once an answer arrives */
  error: string | null;
  /** asks the same question again (a timer, Update, Refresh); stable */
  reload: () => void;
}

/**
 * Asks `name` with `args` on mount and whenever the arguments change (by
 * value: a new object with the same contents asks nothing). Answers can
 * arrive out of order while someone types: only the latest request's answer
 * (or error) is kept, and none after unmount.
 */
export function useQuery<N extends QueryName>(name: N, args: CommandArgs<N>): Query<CommandValue<N>> {
  const socket = useSocket();
  const [value, setValue] = useState<CommandValue<N> | null>(null);
  const [error, setError] = useState<string | null>(null);
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
        },
        (err: unknown) => live && request === latest && setError(errorMessage(err)),
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
  return { value, error, reload };
}
