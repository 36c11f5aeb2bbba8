/** Counts as English: `plural(1, 'recipient')` is "1 recipient", `plural(2, 'copy', 'copies')` "2 copies". */
export const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;
