// Package solve resolves a world (the dependency strings of
// etc/apk/world) against repository indexes into an install plan, with
// the semantics of the apk-tools 2 solver (shared/reference/apk-format.md
// §6), and explains in plain words why a world cannot be satisfied.
//
// # Names and providers
//
// A dependency names either a package or something packages provide
// ("p:" entries: so:, cmd:, pc: names, /bin/sh, ...). A package of that
// name, or a package providing it, is a provider of the name. A
// versioned provide ("name=version") acts like a real package: it can be
// selected automatically and it occupies the name, so that no other
// package of that name or with a versioned provide of it can be chosen.
// An unversioned provide ("name") is a virtual name: several chosen
// packages may provide it at once, it satisfies only dependencies without
// a version, and its provider is selected automatically only when it has
// a provider_priority, when it is the name's only provider, or when its
// own name is also required. A real package and an unversioned provider
// of its name cannot both be chosen (apk-tools disqualifies the other
// providers once a name has a versioned provider). When a package lists a
// name more than once (or its own name) in p:, the first counts.
//
// Every dependency operator of the version package is honoured,
// including "><Q1…" (the package identity, Package.Checksum). A conflict
// "!name[op version]" forbids any other chosen package to provide a
// matching name; a package may conflict with a name it provides itself.
//
// # Preferences
//
// Among the candidates for a name the solver prefers, in this order (as
// apk-tools' compare_providers): the preferred pin (for a world
// dependency "foo@tag" the tag's repositories, otherwise the untagged
// ones); an installed package (unless Request.Upgrade); the higher
// version of the requested name; the higher version of the package's own
// name; an installed package; the higher provider_priority; a package of
// the same origin and version as one already chosen; the lower repository
// number. Remaining ties are broken by name, version and identity, so the
// same inputs always give the same plan.
//
// # Pinning
//
// A package found only in repositories with a tag ("@edge") is allowed
// only when a world dependency carries that tag; the permission is
// inherited along dependencies (and install_if) from the providers of
// that world dependency. It is computed over every package reachable
// from the tagged world dependency, which can allow slightly more than
// apk-tools, which inherits only along chosen packages.
//
// # install_if
//
// Once every dependency is satisfied, a package whose install_if
// conditions are all satisfied by the chosen packages is added, if it can
// be installed; this repeats until nothing more is triggered.
//
// # Search
//
// Unlike apko's greedy resolver, the search backtracks: when the
// preferred candidate for a name leads to a failure (say the newest foo
// needs bar>=2, which no repository has), the next candidate is tried.
// Backtracking is conflict-directed: it returns to the most recent choice
// that took part in the failure, not merely the most recent choice, so
// unrelated decisions are not re-enumerated. Names with a single provider
// are decided first, then the others in the order their first
// requirement was met (breadth first from the world); a virtual name
// that has no automatic choice yet waits until everything else is
// decided, since a provider may be required by then. Each decision
// considers every requirement on the name known at that point. A step
// budget (Request.MaxSteps) bounds pathological inputs.
//
// The search is exhaustive over the candidates it considers, with one
// exception inherited from apk-tools' rules: whether a virtual provider
// is selectable depends on other requirements, and the backtracking does
// not reconsider choices only to make one selectable. When a plan is
// returned it always satisfies every rule above.
//
// An installed package keeps its pin: it may come from a pinned
// repository without the tag in the world.
//
// The world is processed sorted by name, as apk-tools does.
//
// replaces ("r:" in .PKGINFO) does not take part in resolution: as in
// apk-tools it only settles file conflicts when a plan is applied.
//
// # Explanations
//
// When no plan exists, Solve returns an *Error. Its Error method gives a
// chain from a world entry to the requirement that cannot be met, naming
// packages, versions and repositories, such as
//
//	world requires foo
//	foo-2.0-r0 (in main) depends on bar>=2
//	but the repositories have only bar-1.4-r0 (in main)
//
// and its Problems field holds the same explanation as data. When a name
// has several candidates that all fail, each is listed with its own
// reason; after a problem is found the search is repeated without the
// world entries involved, so independent problems are reported together.
//
// # Several architectures
//
// SolveArchs solves one world for several architectures so that every
// package name chosen on more than one architecture has the same version
// everywhere, as apko's lock files require.
package solve
