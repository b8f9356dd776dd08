/** Small shared pieces: the loading, empty and error states every page uses, badges, dialogs, pagers. */
import { type ReactNode, useEffect, useId, useRef, useState } from 'react';
import { useSearchParams } from 'react-router';
import { ApiError } from '../api/client';
import type { RunStatus } from '../api/types';

export function Loading({ what }: { what: string }) {
  return (
    <p className="state loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" /> Loading {what}…
    </p>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <p className="state empty">{children}</p>;
}

/** A failed request: its code and message, never a blank page, and a retry when one makes sense. */
export function ErrorBox({ error, retry }: { error: unknown; retry?: () => void }) {
  const code = error instanceof ApiError ? error.code : 'CLIENT_ERROR';
  const message = error instanceof Error ? error.message : String(error);
  return (
    <div className="state error" role="alert">
      <strong>{code}</strong> {message}
      {error instanceof ApiError && error.fields.length > 0 && (
        <ul>
          {error.fields.map((f) => (
            <li key={f.path}>
              <code>{f.path}</code>: {f.message}
            </li>
          ))}
        </ul>
      )}
      {retry && (
        <button type="button" onClick={retry}>
          Try again
        </button>
      )}
    </div>
  );
}

/** Renders a query's three states around its data. */
export function QueryView<T>({
  query,
  what,
  children,
}: {
  query: { data: T | undefined; error: unknown; isPending: boolean; refetch: () => unknown };
  what: string;
  children: (data: T) => ReactNode;
}) {
  if (query.data !== undefined) return <>{children(query.data)}</>;
  // Asking again cannot change an answer like 404 NOT_FOUND or 403 FORBIDDEN: no "Try again" for those.
  const lasting =
    query.error instanceof ApiError &&
    query.error.status >= 400 &&
    query.error.status < 500 &&
    query.error.status !== 408 &&
    query.error.status !== 429;
  if (query.error)
    return <ErrorBox error={query.error} retry={lasting ? undefined : () => void query.refetch()} />;
  return <Loading what={what} />;
}

const STATUS_TONE: Readonly<Record<RunStatus, string>> = {
  PENDING: 'neutral',
  DISPATCHED: 'info',
  RUNNING: 'info',
  SUCCEEDED: 'good',
  FAILED: 'bad',
  TIMED_OUT: 'bad',
  CANCELLED: 'warn',
  LOST: 'bad',
  SKIPPED: 'neutral',
  NO_WORKER: 'bad',
};

/** Chart colours per run status, matching the badges. */
export const STATUS_COLOR: Readonly<Record<RunStatus, string>> = {
  PENDING: '#8a8f98',
  DISPATCHED: '#4e8fd6',
  RUNNING: '#2f6fbf',
  SUCCEEDED: '#2e8b57',
  FAILED: '#c0392b',
  TIMED_OUT: '#d35400',
  CANCELLED: '#b7950b',
  LOST: '#8e44ad',
  SKIPPED: '#a0a4ab',
  NO_WORKER: '#e74c3c',
};

export const RUN_STATUSES = Object.keys(STATUS_TONE) as RunStatus[];

export function StatusBadge({ status }: { status: string }) {
  const tone = STATUS_TONE[status as RunStatus] ?? 'neutral';
  return <span className={`badge ${tone}`}>{status}</span>;
}

export function Badge({ tone = 'neutral', children }: { tone?: string; children: ReactNode }) {
  return <span className={`badge ${tone}`}>{children}</span>;
}

/**
 * Copies `text` to the clipboard and says so beside the button for a few seconds, or says it could not
 * (a browser may refuse the clipboard to the page).
 */
export function CopyButton({ text, what }: { text: string; what: string }) {
  const [said, setSaid] = useState('');
  useEffect(() => {
    if (!said) return;
    const timer = setTimeout(() => setSaid(''), 3000);
    return () => clearTimeout(timer);
  }, [said]);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setSaid(`Copied the ${what}.`);
    } catch {
      setSaid(`The browser refused the clipboard: select the ${what} to copy it.`);
    }
  };
  return (
    <>
      <button type="button" className="small" onClick={() => void copy()}>
        Copy {what}
      </button>
      <span className="muted small" role="status">
        {said}
      </span>
    </>
  );
}

/**
 * A confirmation step for destructive or disruptive actions, on the native <dialog>: focus moves
 * into it, Escape closes it, and focus returns to the button that opened it.
 */
export function ConfirmButton({
  label,
  title,
  body,
  confirmLabel,
  onConfirm,
  danger,
  disabled,
}: {
  label: string;
  title: string;
  body: ReactNode;
  confirmLabel: string;
  onConfirm: () => void;
  danger?: boolean;
  disabled?: boolean;
}) {
  const dialog = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  return (
    <>
      <button
        type="button"
        className={danger ? 'danger' : undefined}
        disabled={disabled}
        onClick={() => dialog.current?.showModal()}
      >
        {label}
      </button>
      <dialog ref={dialog} aria-labelledby={titleId} className="confirm">
        <form method="dialog">
          <h2 id={titleId}>{title}</h2>
          <div>{body}</div>
          <div className="actions">
            <button type="submit" value="cancel">
              Keep it
            </button>
            <button
              type="submit"
              value="confirm"
              className={danger ? 'danger' : 'primary'}
              onClick={() => onConfirm()}
            >
              {confirmLabel}
            </button>
          </div>
        </form>
      </dialog>
    </>
  );
}

/** Cursor pagination: the API gives the next cursor; the pager keeps the ones behind for "Previous". */
export function useCursorPager(resetKey: string) {
  const [stack, setStack] = useState<string[]>([]);
  const [key, setKey] = useState(resetKey);
  // New filters start again from the first page (state adjusted during render, as React recommends).
  if (key !== resetKey) {
    setKey(resetKey);
    setStack([]);
  }
  return {
    cursor: stack.at(-1),
    page: stack.length + 1,
    next: (cursor: string) => setStack((s) => [...s, cursor]),
    previous: () => setStack((s) => s.slice(0, -1)),
  };
}

/**
 * A cursor pager whose pages live in the URL (`?page=` repeated, one per page turned), so a page can
 * be reloaded, shared and left with Back. Filter changes drop the `page` values (the caller's setter).
 */
export function useUrlCursorPager(): ReturnType<typeof useCursorPager> {
  const [params, setParams] = useSearchParams();
  const stack = params.getAll('page');
  const write = (pages: readonly string[]) =>
    setParams((previous) => {
      const next = new URLSearchParams(previous);
      next.delete('page');
      for (const page of pages) next.append('page', page);
      return next;
    });
  return {
    cursor: stack.at(-1),
    page: stack.length + 1,
    next: (cursor: string) => write([...stack, cursor]),
    previous: () => write(stack.slice(0, -1)),
  };
}

export function Pager({
  pager,
  nextCursor,
}: {
  pager: ReturnType<typeof useCursorPager>;
  nextCursor: string | undefined;
}) {
  return (
    <nav className="pager" aria-label="Pagination">
      <button type="button" disabled={pager.page === 1} onClick={pager.previous}>
        ← Previous
      </button>
      <span>Page {pager.page}</span>
      <button type="button" disabled={!nextCursor} onClick={() => nextCursor && pager.next(nextCursor)}>
        Next →
      </button>
    </nav>
  );
}

export function MutationError({ error }: { error: unknown }) {
  return error ? <ErrorBox error={error} /> : null;
}
