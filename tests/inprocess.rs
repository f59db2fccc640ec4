//! The in-process restrictions: `--no-code-exec`, `--no-interpreter-mutation`,
//! `--deny-import`, and what the standard library keeps doing under them.

mod common;

use common::{hermetic, Run};

fn run(options: &[&str], code: &str) -> Run {
    let mut args = options.to_vec();
    args.extend_from_slice(&["-c", code]);
    hermetic(&args)
}

const ATTEMPT: &str = "def attempt(name, action):\n    try:\n        action()\n        print(name, 'allowed')\n    except (PermissionError, ImportError):\n        print(name, 'denied')\n";

#[test]
fn no_code_exec_denies_the_script_and_keeps_the_standard_library() {
    let code = format!(
        "{ATTEMPT}import collections, dataclasses, typing, enum, string, importlib, timeit, runpy, types, marshal\n\
         import importlib._bootstrap as b\n\
         attempt('eval', lambda: eval('1'))\n\
         attempt('exec', lambda: exec('x = 1'))\n\
         attempt('compile', lambda: compile('1', '<s>', 'eval'))\n\
         attempt('timeit', lambda: timeit.timeit('1', number=1))\n\
         attempt('importlib trampoline', lambda: b._call_with_frames_removed(exec, 'x = 1', {{}}))\n\
         attempt('runpy.run_path', lambda: runpy.run_path(string.__file__))\n\
         attempt('code.replace', lambda: (lambda: 1).__code__.replace(co_name='g'))\n\
         attempt('FunctionType', lambda: types.FunctionType((lambda: 1).__code__, {{}}))\n\
         P = collections.namedtuple('P', 'x y')\n\
         @dataclasses.dataclass\n\
         class D:\n    a: int\n\
         class N(typing.NamedTuple):\n    a: int\n\
         class E(enum.Enum):\n    A = 1\n\
         print(P(1, 2), D(3), N(4), E.A, string.Template('$a').substitute(a=5), importlib.import_module('colorsys').__name__)\n"
    );
    let result = run(&["--no-code-exec"], &code);
    assert_eq!(
        result.stdout,
        "eval denied\nexec denied\ncompile denied\ntimeit denied\nimportlib trampoline denied\nrunpy.run_path denied\n\
         code.replace denied\nFunctionType denied\nP(x=1, y=2) D(a=3) N(a=4) E.A 5 colorsys\n",
        "{}",
        result.dump()
    );
    let allowed = run(&[], "print(eval('1 + 1'))");
    assert_eq!(allowed.stdout, "2\n");
}

#[test]
fn no_interpreter_mutation_refuses_chdir_and_imports_after_a_path_change() {
    let code = format!(
        "{ATTEMPT}import os, sys, csv, email, asyncio\n\
         attempt('chdir', lambda: os.chdir('/'))\n\
         print('cwd kept', os.getcwd() != '/')\n\
         sys.path.insert(0, '/tmp')\n\
         attempt('import after sys.path.insert', lambda: __import__('colorsys'))\n\
         sys.path.pop(0)\n\
         attempt('import after undoing it', lambda: __import__('colorsys'))\n\
         sys.meta_path.insert(0, object())\n\
         attempt('import after meta_path change', lambda: __import__('json'))\n"
    );
    let result = run(&["--no-interpreter-mutation"], &code);
    assert_eq!(
        result.stdout,
        "chdir denied\ncwd kept True\nimport after sys.path.insert denied\nimport after undoing it allowed\n\
         import after meta_path change denied\n",
        "{}",
        result.dump()
    );
    let code = "import csv, email, asyncio, json, decimal\nprint('ok')\n";
    assert_eq!(run(&["--no-interpreter-mutation"], code).stdout, "ok\n");
}

#[test]
fn deny_import_holds_however_the_module_is_imported() {
    let code = format!(
        "{ATTEMPT}import importlib, importlib.util, runpy\n\
         attempt('import', lambda: __import__('json'))\n\
         attempt('import_module', lambda: importlib.import_module('json.decoder'))\n\
         attempt('exec_module', lambda: (lambda s: s.loader.exec_module(importlib.util.module_from_spec(s)))(importlib.util.find_spec('json')))\n\
         attempt('runpy', lambda: runpy.run_module('json.tool', run_name='x'))\n\
         attempt('jsonschema-like name', lambda: importlib.import_module('colorsys'))\n"
    );
    let result = run(&["--deny-import", "json"], &code);
    assert_eq!(
        result.stdout,
        "import denied\nimport_module denied\nexec_module denied\nrunpy denied\njsonschema-like name allowed\n",
        "{}",
        result.dump()
    );
}

#[test]
fn block_native_with_no_subprocess_denies_the_seed_tools_modules() {
    let result = run(
        &["--block-native", "--no-subprocess", "--print-policy"],
        "pass",
    );
    for module in ["sh", "pexpect", "plumbum", "sarge", "delegator"] {
        assert!(
            result.stdout.contains(&format!("\"{module}\",")),
            "{module}: {}",
            result.stdout
        );
    }
}
