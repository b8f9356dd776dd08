/** Only paths inside the console: a crafted `returnTo` must not send the user to another site. */
export function safeReturnTo(value: string | null | undefined): string {
  return value?.startsWith('/') && !value.startsWith('//') && !value.startsWith('/\\') ? value : '/';
}
