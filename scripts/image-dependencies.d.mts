// Types of image-dependencies.mjs (plain JavaScript: an image's build stage runs it with node alone).

export interface ModuleGraph {
  /** Absolute paths of every relative module reached, the entrypoint first. */
  readonly modules: readonly string[];
  /** `importer → specifier` for relative imports whose target file does not exist. */
  readonly missing: readonly string[];
  /**
   * Bare specifiers (packages, with subpaths) imported anywhere in the graph, and the names of the
   * packages a literal `require`/`createRequire(…)` call or its `.resolve` names; sorted.
   */
  readonly packages: readonly string[];
  /** `importer: import(expr)` calls whose argument is not a string literal (cannot be followed). */
  readonly unfollowable: readonly string[];
}

export interface PackageManifest {
  readonly dependencies?: Readonly<Record<string, string>>;
  readonly [field: string]: unknown;
}

/**
 * The compiled modules `entry` (a path to emitted JavaScript) can load, following relative static
 * and string-literal dynamic imports (relative `require` calls are not followed: tsc emits ESM, so
 * those read JSON); `node:` and built-in modules are left out. Throws the
 * filesystem error when a module cannot be read.
 */
export declare function moduleGraph(entry: string): ModuleGraph;

/** The npm package a bare specifier names: `@scope/name/sub` → `@scope/name`, `name/sub` → `name`. */
export declare function packageName(specifier: string): string;

/**
 * `manifest` with `dependencies` reduced to the packages `graph` imports (versions as declared),
 * and the imported packages `dependencies` does not declare (a dev dependency, or one installed
 * only as another package's dependency: `npm prune --omit=dev` would not keep it), sorted.
 */
export declare function narrowDependencies(
  manifest: PackageManifest,
  graph: Pick<ModuleGraph, 'packages'>,
): {
  readonly manifest: PackageManifest & { readonly dependencies: Record<string, string> };
  readonly undeclared: string[];
};
