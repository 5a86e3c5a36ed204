'use client';

import { useActionState } from 'react';
import { login, type LoginState } from './actions';
import styles from './login.module.css';

const initialState: LoginState = { error: null };

export function LoginForm({ next }: { next: string }) {
  const [state, formAction, pending] = useActionState(login, initialState);
  // Both fields point at the one error message (which never says which of the two was wrong).
  const errorProps = state.error ? { 'aria-invalid': true, 'aria-describedby': 'login-error' } : {};
  return (
    <form action={formAction} className={styles.form}>
      <input type="hidden" name="next" value={next} />
      <label htmlFor="username" className={styles.label}>
        Username
      </label>
      <input
        id="username"
        name="username"
        type="text"
        autoComplete="username"
        autoCapitalize="none"
        spellCheck={false}
        required
        autoFocus
        defaultValue={state.username ?? ''}
        key={state.username ?? ''}
        className={styles.input}
        {...errorProps}
      />
      <label htmlFor="password" className={styles.label}>
        Password
      </label>
      <input
        id="password"
        name="password"
        type="password"
        autoComplete="current-password"
        required
        className={styles.input}
        {...errorProps}
      />
      {state.error ? (
        <p id="login-error" role="alert" className={styles.error}>
          {state.error}
        </p>
      ) : null}
      <button type="submit" disabled={pending} className={styles.button}>
        {pending ? 'Signing in…' : 'Sign in'}
      </button>
    </form>
  );
}
