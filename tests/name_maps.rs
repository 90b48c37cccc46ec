//! `Named` (what the `named_*` traversals return) and `NameMap` (the map behind `StateDict`):
//! order, lookups, replacement and removal.

use modcore::{Module, ModuleCore, NameMap, Parameter};

mod common;
use common::{zeros, T};

#[derive(Module)]
struct Leaf {
    core: ModuleCore,
    w: Parameter<T>,
}

#[derive(Module)]
struct Tree {
    core: ModuleCore,
    a: Leaf,
    b: Leaf,
}

fn tree() -> Tree {
    let leaf = || Leaf {
        core: ModuleCore::new(),
        w: Parameter::new(zeros(&[1])),
    };
    Tree {
        core: ModuleCore::new(),
        a: leaf(),
        b: leaf(),
    }
}

#[test]
fn named_iterates_by_reference_by_value_and_from_both_ends() {
    let t = tree();
    let named = t.named_parameters();
    assert_eq!(named.len(), 2);
    assert_eq!(named.names().collect::<Vec<_>>(), ["a.w", "b.w"]);
    assert_eq!(named.get(1).map(|(n, _)| n), Some("b.w"));
    assert!(named.get(2).is_none());
    let backwards: Vec<&str> = named.iter().rev().map(|(n, _)| n).collect();
    assert_eq!(backwards, ["b.w", "a.w"]);
    assert_eq!(named.iter().len(), 2);
    assert!(std::ptr::eq(named.get(0).unwrap().1, &t.a.w));
    assert_eq!(
        format!("{:?}", t.named_modules().names().collect::<Vec<_>>()),
        "[\"\", \"a\", \"b\"]"
    );
    let owned = named.clone().into_vec();
    assert_eq!(owned[0].0, "a.w");
    assert_eq!(named.into_values().count(), 2);
}

#[test]
fn name_map_keeps_insertion_order_across_replacement_and_removal() {
    let mut m: NameMap<i32> = NameMap::new();
    assert_eq!(m.get("x"), None);
    assert_eq!(m.insert("x", 1), None);
    assert_eq!(m.insert("y", 2), None);
    assert_eq!(m.insert("z", 3), None);
    assert_eq!(m.insert("x", 10), Some(1));
    assert_eq!(
        m.iter().collect::<Vec<_>>(),
        [("x", &10), ("y", &2), ("z", &3)]
    );
    assert_eq!(m.remove("y"), Some(2));
    assert_eq!(m.remove("y"), None);
    assert_eq!(m.insert("y", 20), None);
    assert_eq!(m.keys().collect::<Vec<_>>(), ["x", "z", "y"]);
    assert_eq!(m.get_index_of("y"), Some(2));
    assert_eq!(m.get_index(1), Some(("z", &3)));
    m.retain(|k, v| {
        *v += 1;
        k != "x"
    });
    assert_eq!(m.iter().collect::<Vec<_>>(), [("z", &4), ("y", &21)]);
    *m.get_mut("z").unwrap() = 0;
    assert_eq!(m["z"], 0);
    assert!(m.contains_key("y") && !m.contains_key("x"));
    let owned: Vec<(String, i32)> = m.clone().into_iter().collect();
    assert_eq!(owned, [("z".to_owned(), 0), ("y".to_owned(), 21)]);
    assert_eq!(format!("{m:?}"), "{\"z\": 0, \"y\": 21}");
    let collected: NameMap<i32> = [("z", 0), ("y", 21)].into_iter().collect();
    assert_eq!(collected, m);
    // Many removals: the keys left are still found (the key buffer is compacted).
    for i in 0..100 {
        m.insert(format!("k{i}"), i);
    }
    m.retain(|k, _| k.len() == 1 || k == "k42");
    for i in 0..99 {
        assert!(m.remove(&format!("k{i}")).is_none() || i == 42);
    }
    assert_eq!(m.iter().collect::<Vec<_>>(), [("z", &0), ("y", &21)]);
    assert_eq!(m.get("y"), Some(&21));
}

#[test]
fn a_state_dict_is_looked_up_after_the_walk_that_built_it() {
    let t = tree();
    let mut sd = t.state_dict();
    assert_eq!(sd.keys().collect::<Vec<_>>(), ["a.w", "b.w"]);
    assert!(sd.contains_key("b.w") && !sd.contains_key("c.w"));
    assert_eq!(sd.metadata().keys().collect::<Vec<_>>(), ["", "a", "b"]);
    // Replacing an existing key keeps its place; a new key goes last.
    assert!(sd.insert("a.w", zeros(&[2])).is_some());
    assert!(sd.insert("c.w", zeros(&[3])).is_none());
    assert_eq!(sd.keys().collect::<Vec<_>>(), ["a.w", "b.w", "c.w"]);
    assert_eq!(sd.get("a.w").unwrap().shape(), [2]);
}
