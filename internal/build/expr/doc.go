// Package expr implements the two small languages of melange build files:
// ${{…}} variable references and if: conditions.
//
// A reference is "${{" NAME "}}" where NAME is made of the characters
// [A-Za-z0-9._-], for example ${{package.version}} or ${{vars.py-version}}.
// Substitution happens in two passes, as in melange:
//
//   - Replace is the first, exact-text pass used while a build file is
//     loaded: only references written exactly as "${{name}}" (no blanks)
//     whose name is known are replaced; everything else is left alone for
//     the second pass.
//   - Subst is the second, tolerant pass used when pipelines are compiled:
//     blanks around the name are allowed ("${{ package.version }}"), and a
//     name that is not defined is an error.
//
// There is no escape for a literal "${{": melange has none, and shell
// syntax never needs one ("${VAR}" and "$VAR" are left untouched).
//
// A condition (Eval) compares values with == and != and combines the
// comparisons with && and || and parentheses. A value is a quoted string
// ('…' or "…", with \\, \', \", \n and \t escapes) or a reference. References
// inside quoted strings are substituted too, so "${{range.key}}" == "64"
// works whether or not the reference was already replaced. && binds more
// tightly than || (melange evaluates a chain left to right; the two agree
// whenever the operators are not mixed without parentheses).
package expr
