// fetch's json() is typed unknown; API tests read loosely shaped JSON and assert on it.
// biome-ignore lint/suspicious/noExplicitAny: the assertions that follow are the type check.
export async function jsonOf(res: Response): Promise<any> {
  return res.json();
}
