// .wgsl files imported as text: the browser build's loader (scripts/build-browser.mjs).
declare module '*.wgsl' {
  const source: string;
  export default source;
}
