// Types of built.js (plain JavaScript: bin/ runs before anything is compiled).
export function builtAfterSources(root: string): boolean;
