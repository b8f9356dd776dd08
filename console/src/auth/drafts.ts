import { useCallback, useState } from 'react';

/**
 * Form state that survives a lost session: kept in sessionStorage under `key` on every change, so a
 * trip through the sign-in page (or Cognito's hosted UI) brings the half-filled form back. Cleared
 * once the form is saved or abandoned.
 */
export function useDraft<T>(key: string, initial: () => T): [T, (next: T) => void, () => void] {
  const storageKey = `clover.draft.${key}`;
  const [value, setValue] = useState<T>(() => {
    try {
      const raw = sessionStorage.getItem(storageKey);
      if (raw) return JSON.parse(raw) as T;
    } catch {
      sessionStorage.removeItem(storageKey);
    }
    return initial();
  });
  // Written on change, not on mount: opening a form and leaving it untouched leaves no draft behind.
  const set = useCallback(
    (next: T) => {
      sessionStorage.setItem(storageKey, JSON.stringify(next));
      setValue(next);
    },
    [storageKey],
  );
  const clear = useCallback(() => sessionStorage.removeItem(storageKey), [storageKey]);
  return [value, set, clear];
}

/** Whether a draft is waiting for `key` (the form shows "restored your unsaved changes"). */
export function hasDraft(key: string): boolean {
  return sessionStorage.getItem(`clover.draft.${key}`) !== null;
}

export function dropDraft(key: string): void {
  sessionStorage.removeItem(`clover.draft.${key}`);
}
