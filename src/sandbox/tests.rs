//! Fidelity tests: every answer of the sandbox checked against the JSON schemas of Amazon's own
//! models (made strict: no property the model does not define), every documented rule checked
//! by a request that breaks it, and the generated data checked for realism and determinism.

use super::*;
use rust_decimal::Decimal;
use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;
use std::sync::OnceLock;
use time::Duration;

// ---------------------------------------------------------------------------------------------
// Schemas

/// The official models, kept in the repository (see specs/SOURCE.md).
fn specs_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("specs")
}

fn spec_dir() -> PathBuf {
    specs_root().join("spapi")
}

/// Every copy in `specs/` is the file SOURCE.md names, byte for byte: its SHA-256 matches
/// the one recorded there, and no file in the folder goes unrecorded.
#[test]
fn specs_match_their_recorded_checksums() {
    let root = specs_root();
    let source = std::fs::read_to_string(root.join("SOURCE.md")).expect("specs/SOURCE.md");
    let mut checked = BTreeSet::new();
    for (section, dir) in [
        ("## Amazon", "spapi"),
        ("## PostNL", "postnl"),
        ("## VIES", "vies"),
        ("## European Commission TEDB", "tedb"),
    ] {
        let start = source.find(section).expect("section in SOURCE.md");
        let rest = &source[start + section.len()..];
        let body = &rest[..rest.find("\n## ").unwrap_or(rest.len())];
        for line in body.lines().filter(|l| l.starts_with("| `")) {
            let file = line[3..].split('`').next().unwrap();
            let Some(sum) = line
                .split('`')
                .find(|w| w.len() == 64 && w.bytes().all(|b| b.is_ascii_hexdigit()))
            else {
                continue;
            };
            let bytes = std::fs::read(root.join(dir).join(file)).expect("recorded spec file");
            let digest = ring::digest::digest(&ring::digest::SHA256, &bytes);
            let hex = digest.as_ref().iter().fold(String::new(), |mut h, b| {
                let _ = write!(h, "{b:02x}");
                h
            });
            assert_eq!(hex, sum, "specs/{dir}/{file} differs from its source");
            checked.insert(format!("{dir}/{file}"));
        }
    }
    for dir in ["spapi", "postnl", "vies", "tedb"] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            let ext = Path::new(&name).extension().and_then(|e| e.to_str());
            if matches!(ext, Some("json" | "xsd" | "wsdl" | "yaml")) {
                assert!(
                    checked.contains(&format!("{dir}/{name}")),
                    "specs/{dir}/{name} is not in SOURCE.md"
                );
            }
        }
    }
    assert!(checked.len() >= 12, "only {} checked", checked.len());
    assert!(checked.contains("vies/swagger_publicVAT.yaml"));
}

fn model(name: &str) -> Value {
    let path = spec_dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("model is JSON")
}

/// Adds `additionalProperties: false` to every object schema that lists properties, so a
/// misspelt or invented field fails validation.
fn strict(v: &mut Value) {
    match v {
        Value::Object(m) => {
            if m.contains_key("properties") && !m.contains_key("additionalProperties") {
                m.insert("additionalProperties".into(), Value::Bool(false));
            }
            for c in m.values_mut() {
                strict(c);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(strict),
        _ => {}
    }
}

struct Schemas {
    orders: Value,
    v0: Value,
    feeds: Value,
    finances: Value,
}

fn schemas() -> &'static Schemas {
    static S: OnceLock<Schemas> = OnceLock::new();
    S.get_or_init(|| {
        let defs = |name: &str| {
            let mut d = model(name)["definitions"].clone();
            strict(&mut d);
            d
        };
        Schemas {
            orders: defs("orders_2026-01-01.json"),
            v0: defs("ordersV0.json"),
            feeds: defs("feeds_2021-06-30.json"),
            finances: defs("financesV0.json"),
        }
    })
}

fn assert_valid(defs: &Value, def: &str, instance: &Value) {
    let schema = json!({ "$ref": format!("#/definitions/{def}"), "definitions": defs });
    let v = jsonschema::draft4::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("schema builds");
    let errors: Vec<String> = v
        .iter_errors(instance)
        .take(5)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{def} invalid: {errors:#?}\n{}",
        serde_json::to_string_pretty(instance).unwrap_or_default()
    );
}

fn valid_orders(def: &str, v: &Value) {
    assert_valid(&schemas().orders, def, v);
}
fn valid_v0(def: &str, v: &Value) {
    assert_valid(&schemas().v0, def, v);
}
fn valid_feeds(def: &str, v: &Value) {
    assert_valid(&schemas().feeds, def, v);
}
fn valid_finances(def: &str, v: &Value) {
    assert_valid(&schemas().finances, def, v);
}

// ---------------------------------------------------------------------------------------------
// Helpers

const UA: &str = "fulfil-tests/0.1 (Language=Rust/1.95; Platform=Linux)";

fn config(n: usize) -> SandboxConfig {
    SandboxConfig {
        seed: 7,
        generate: n,
        rate_limits: false,
        ..SandboxConfig::default()
    }
}

fn start(n: usize) -> Sandbox {
    Sandbox::start(config(n)).expect("sandbox starts")
}

fn lwa_form(client_id: &str, secret: &str, refresh: &str) -> Vec<u8> {
    format!(
        "grant_type=refresh_token&refresh_token={}&client_id={}&client_secret={}",
        refresh.replace('|', "%7C"),
        client_id,
        secret
    )
    .into_bytes()
}

fn lwa(sb: &Sandbox, body: &[u8]) -> Response {
    sb.call(&Request::from_target(
        "POST",
        "/auth/o2/token",
        &[(
            "content-type",
            "application/x-www-form-urlencoded;charset=UTF-8",
        )],
        body,
    ))
}

fn token(sb: &Sandbox) -> String {
    let r = lwa(
        sb,
        &lwa_form(
            creds::LWA_CLIENT_ID,
            creds::LWA_CLIENT_SECRET,
            creds::REFRESH_TOKEN,
        ),
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    r.json_body()["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned()
}

fn get(sb: &Sandbox, tok: &str, target: &str) -> Response {
    sb.call(&Request::from_target(
        "GET",
        target,
        &[("x-amz-access-token", tok), ("user-agent", UA)],
        b"",
    ))
}

fn post(sb: &Sandbox, tok: &str, target: &str, body: &Value) -> Response {
    sb.call(&Request::from_target(
        "POST",
        target,
        &[
            ("x-amz-access-token", tok),
            ("user-agent", UA),
            ("content-type", "application/json"),
        ],
        body.to_string().as_bytes(),
    ))
}

fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

fn long_ago(sb: &Sandbox) -> String {
    clock::fmt(sb.now() - Duration::days(12))
}

fn search(sb: &Sandbox, tok: &str, query: &str) -> Response {
    get(sb, tok, &format!("/orders/2026-01-01/orders?{query}"))
}

fn all_included() -> String {
    orders::DATASETS.join(",")
}

/// Every order visible now (created in the last 12 days), with every dataset.
fn all_orders(sb: &Sandbox, tok: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let base = format!(
        "createdAfter={}&includedData={}",
        enc(&long_ago(sb)),
        all_included()
    );
    let mut q = base.clone();
    loop {
        let r = search(sb, tok, &q);
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let body = r.json_body();
        out.extend(body["orders"].as_array().cloned().unwrap_or_default());
        match body["pagination"]["nextToken"].as_str() {
            Some(t) => q = format!("{base}&paginationToken={}", enc(t)),
            None => return out,
        }
    }
}

fn error_code(r: &Response) -> String {
    r.json_body()["errors"][0]["code"]
        .as_str()
        .unwrap_or("")
        .to_owned()
}

fn error_message(r: &Response) -> String {
    r.json_body()["errors"][0]["message"]
        .as_str()
        .unwrap_or("")
        .to_owned()
}

fn status_of(o: &Value) -> &str {
    o["fulfillment"]["fulfillmentStatus"].as_str().unwrap_or("")
}

fn dec(v: &Value) -> Decimal {
    v["amount"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("money amount")
}

/// Minimal HTTP/1.1 client over a raw socket (never the product's clients).
fn raw_http(addr: SocketAddr, request: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut s = std::net::TcpStream::connect(addr)?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
    s.write_all(request)?;
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    Ok(out)
}

fn http_get(addr: SocketAddr, target: &str, headers: &str) -> (u16, String) {
    let req =
        format!("GET {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{headers}\r\n");
    let out = raw_http(addr, req.as_bytes()).expect("connects");
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

// ---------------------------------------------------------------------------------------------
// Orders: schema fidelity, includedData, roles, status rules

#[test]
fn search_pages_validate_for_every_included_data_and_role_set() {
    let sb = start(120);
    let tok = token(&sb);
    let mut sets: Vec<String> = orders::DATASETS.iter().map(|d| (*d).to_owned()).collect();
    sets.push(all_included());
    sets.push(String::new());
    let role_sets = [
        Roles::ALL,
        Roles::NONE,
        "dtc-shipping".parse().expect("roles"),
        "tax-invoicing".parse().expect("roles"),
        "tax-remittance".parse().expect("roles"),
    ];
    let mut checked = 0;
    for roles in role_sets {
        sb.set_roles(roles);
        for set in &sets {
            let mut q = format!("createdAfter={}&maxResultsPerPage=100", enc(&long_ago(&sb)));
            if !set.is_empty() {
                let _ = write!(q, "&includedData={set}");
            }
            let r = search(&sb, &tok, &q);
            assert_eq!(r.status, 200);
            let body = r.json_body();
            valid_orders("SearchOrdersResponse", &body);
            checked += body["orders"].as_array().map_or(0, Vec::len);
        }
    }
    assert!(checked > 5 * 13 * 90, "checked {checked} orders");
}

#[test]
fn included_data_alone_decides_the_blocks() {
    let sb = start(60);
    let tok = token(&sb);
    let r = search(
        &sb,
        &tok,
        &format!("createdAfter={}&includedData=BUYER", enc(&long_ago(&sb))),
    );
    let body = r.json_body();
    let orders = body["orders"].as_array().expect("orders");
    assert!(!orders.is_empty());
    for o in orders {
        for absent in [
            "recipient",
            "proceeds",
            "fulfillment",
            "tax",
            "packages",
            "payment",
        ] {
            assert!(
                o.get(absent).is_none(),
                "{absent} present with includedData=BUYER"
            );
        }
        for it in o["orderItems"].as_array().expect("items") {
            assert!(it.get("proceeds").is_none() && it.get("fulfillment").is_none());
            assert!(it.get("product").is_some(), "items are always embedded");
        }
    }
    assert!(orders.iter().any(|o| o["buyer"]["buyerName"].is_string()));
    // Nothing asked: only the always-present fields.
    let r = search(&sb, &tok, &format!("createdAfter={}", enc(&long_ago(&sb))));
    for o in r.json_body()["orders"].as_array().expect("orders") {
        assert!(o.get("buyer").is_none() && o.get("recipient").is_none());
        assert!(o["orderId"].is_string() && o["salesChannel"]["marketplaceId"].is_string());
    }
}

fn unshipped_with_address(sb: &Sandbox, tok: &str) -> Vec<Value> {
    let q = format!(
        "createdAfter={}&fulfillmentStatuses=UNSHIPPED&includedData={}",
        enc(&long_ago(sb)),
        all_included()
    );
    search(sb, tok, &q).json_body()["orders"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[test]
fn roles_hide_pii_silently() {
    let sb = start(80);
    let tok = token(&sb);
    let all = unshipped_with_address(&sb, &tok);
    assert!(
        all.iter()
            .all(|o| o["recipient"]["deliveryAddress"]["postalCode"].is_string())
    );
    assert!(all.iter().all(|o| o["buyer"]["buyerEmail"].is_string()));
    assert!(all.iter().any(|o| o["tax"]["taxRegistrations"].is_array()));

    sb.set_roles(Roles::NONE);
    for o in unshipped_with_address(&sb, &tok) {
        let a = &o["recipient"]["deliveryAddress"];
        for k in [
            "name",
            "addressLine1",
            "addressLine2",
            "postalCode",
            "phone",
        ] {
            assert!(a.get(k).is_none(), "{k} visible without roles");
        }
        assert!(a["city"].is_string() && a["countryCode"].is_string());
        assert!(o["buyer"].get("buyerEmail").is_none() && o["buyer"].get("buyerName").is_none());
        assert!(o["tax"].get("taxRegistrations").is_none());
        valid_orders("Order", &o);
    }

    sb.set_roles("tax-invoicing".parse().expect("roles"));
    for o in unshipped_with_address(&sb, &tok) {
        assert!(
            o["buyer"]["buyerName"].is_string(),
            "tax invoicing sees buyer name"
        );
        assert!(o["buyer"].get("buyerEmail").is_none());
        assert!(
            o["recipient"]["deliveryAddress"]
                .get("addressLine1")
                .is_none()
        );
        assert!(o["tax"]["taxRegistrations"].is_array());
    }

    sb.set_roles("dtc-shipping".parse().expect("roles"));
    for o in unshipped_with_address(&sb, &tok) {
        assert!(o["buyer"]["buyerName"].is_string() && o["buyer"]["buyerEmail"].is_string());
        assert!(o["recipient"]["deliveryAddress"]["postalCode"].is_string());
        assert!(o["tax"].get("taxRegistrations").is_none());
    }
}

#[test]
fn pending_orders_carry_no_address_pii_or_prices() {
    let sb = start(300);
    let tok = token(&sb);
    let q = format!(
        "createdAfter={}&fulfillmentStatuses=PENDING&includedData={}",
        enc(&long_ago(&sb)),
        all_included()
    );
    let body = search(&sb, &tok, &q).json_body();
    let pending = body["orders"].as_array().expect("orders");
    assert!(!pending.is_empty(), "some orders are pending at start");
    for o in pending {
        assert_eq!(status_of(o), "PENDING");
        assert!(o["recipient"].get("deliveryAddress").is_none());
        assert!(o["buyer"].get("buyerName").is_none() && o["buyer"].get("buyerEmail").is_none());
        assert!(o.get("proceeds").is_none());
        for it in o["orderItems"].as_array().expect("items") {
            assert!(it["product"].get("price").is_none() && it.get("proceeds").is_none());
        }
        valid_orders("Order", o);
    }
}

#[test]
fn get_order_validates_and_errors_have_the_model_shape() {
    let sb = start(30);
    let tok = token(&sb);
    let id = sb.order_ids()[0].clone();
    let r = get(
        &sb,
        &tok,
        &format!(
            "/orders/2026-01-01/orders/{id}?includedData={}",
            all_included()
        ),
    );
    assert_eq!(r.status, 200);
    valid_orders("GetOrderResponse", &r.json_body());
    assert_eq!(r.json_body()["order"]["orderId"], json!(id));
    assert_eq!(
        r.header("x-amzn-RateLimit-Limit"),
        Some("1000"),
        "limits off: unmetered"
    );
    assert!(r.header("x-amzn-RequestId").is_some_and(|v| v.len() == 36));

    let r = get(&sb, &tok, "/orders/2026-01-01/orders/999-0000000-0000000");
    assert_eq!(r.status, 404);
    valid_orders("ErrorList", &r.json_body());
    let r = get(&sb, &tok, "/orders/2026-01-01/orders/TEST_CASE_400");
    assert_eq!(r.status, 400);
    assert_eq!(error_code(&r), "InvalidInput");
    valid_orders("ErrorList", &r.json_body());
    let r = get(
        &sb,
        &tok,
        &format!("/orders/2026-01-01/orders/{id}?includedData=EVERYTHING"),
    );
    assert_eq!(r.status, 400);
}

// ---------------------------------------------------------------------------------------------
// searchOrders parameter rules (one test per rule)

fn expect_400(sb: &Sandbox, tok: &str, query: &str, needle: &str) {
    let r = search(sb, tok, query);
    assert_eq!(
        r.status,
        400,
        "query {query} → {}",
        String::from_utf8_lossy(&r.body)
    );
    assert_eq!(error_code(&r), "InvalidInput");
    assert!(
        error_message(&r).contains(needle),
        "{} lacks {needle}",
        error_message(&r)
    );
    valid_orders("ErrorList", &r.json_body());
    assert!(r.header("x-amzn-RequestId").is_some());
}

#[test]
fn rule_exactly_one_after_none_given() {
    let sb = start(5);
    let tok = token(&sb);
    expect_400(
        &sb,
        &tok,
        "maxResultsPerPage=10",
        "Exactly one of createdAfter and lastUpdatedAfter",
    );
}

#[test]
fn rule_exactly_one_after_both_given() {
    let sb = start(5);
    let tok = token(&sb);
    let t = enc(&long_ago(&sb));
    expect_400(
        &sb,
        &tok,
        &format!("createdAfter={t}&lastUpdatedAfter={t}"),
        "Exactly one of",
    );
}

#[test]
fn rule_before_only_with_its_own_family() {
    let sb = start(5);
    let tok = token(&sb);
    let t = enc(&long_ago(&sb));
    let b = enc(&clock::fmt(sb.now() - Duration::hours(1)));
    expect_400(
        &sb,
        &tok,
        &format!("createdAfter={t}&lastUpdatedBefore={b}"),
        "lastUpdatedBefore cannot",
    );
    expect_400(
        &sb,
        &tok,
        &format!("lastUpdatedAfter={t}&createdBefore={b}"),
        "createdBefore cannot",
    );
}

#[test]
fn rule_before_not_earlier_than_after() {
    let sb = start(5);
    let tok = token(&sb);
    let a = enc(&clock::fmt(sb.now() - Duration::days(1)));
    let b = enc(&clock::fmt(sb.now() - Duration::days(2)));
    expect_400(
        &sb,
        &tok,
        &format!("createdAfter={a}&createdBefore={b}"),
        "equal to or after",
    );
}

#[test]
fn rule_before_at_least_two_minutes_before_now() {
    let sb = start(5);
    let tok = token(&sb);
    let a = enc(&long_ago(&sb));
    let b = enc(&clock::fmt(sb.now() - Duration::seconds(60)));
    expect_400(
        &sb,
        &tok,
        &format!("lastUpdatedAfter={a}&lastUpdatedBefore={b}"),
        "two minutes",
    );
    let ok = enc(&clock::fmt(sb.now() - Duration::minutes(3)));
    let r = search(
        &sb,
        &tok,
        &format!("lastUpdatedAfter={a}&lastUpdatedBefore={ok}"),
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json_body()["lastUpdatedBefore"],
        json!(clock::fmt(sb.now() - Duration::minutes(3)))
    );
}

#[test]
fn rule_dates_must_be_iso_8601() {
    let sb = start(5);
    let tok = token(&sb);
    expect_400(&sb, &tok, "createdAfter=02/21/2022", "ISO 8601");
    expect_400(&sb, &tok, "createdAfter=TEST_CASE_400", "ISO 8601");
}

#[test]
fn rule_fulfillment_statuses_enum() {
    let sb = start(5);
    let tok = token(&sb);
    let a = enc(&long_ago(&sb));
    expect_400(
        &sb,
        &tok,
        &format!("createdAfter={a}&fulfillmentStatuses=UNSHIPPED,Shipped"),
        "fulfillmentStatuses",
    );
}

#[test]
fn rule_fulfilled_by_enum() {
    let sb = start(5);
    let tok = token(&sb);
    let a = enc(&long_ago(&sb));
    expect_400(
        &sb,
        &tok,
        &format!("createdAfter={a}&fulfilledBy=MFN"),
        "fulfilledBy",
    );
}

#[test]
fn rule_at_most_50_marketplace_ids() {
    let sb = start(5);
    let tok = token(&sb);
    let a = enc(&long_ago(&sb));
    let ids = |n: usize| {
        (0..n)
            .map(|i| format!("M{i}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    expect_400(
        &sb,
        &tok,
        &format!("createdAfter={a}&marketplaceIds={}", ids(51)),
        "at most 50",
    );
    let r = search(
        &sb,
        &tok,
        &format!("createdAfter={a}&marketplaceIds={}", ids(50)),
    );
    assert_eq!(r.status, 200);
}

#[test]
fn rule_max_results_per_page_1_to_100() {
    let sb = start(5);
    let tok = token(&sb);
    let a = enc(&long_ago(&sb));
    for bad in ["0", "101", "abc", "-5", "2.5"] {
        expect_400(
            &sb,
            &tok,
            &format!("createdAfter={a}&maxResultsPerPage={bad}"),
            "maxResultsPerPage",
        );
    }
    for good in ["1", "100"] {
        assert_eq!(
            search(
                &sb,
                &tok,
                &format!("createdAfter={a}&maxResultsPerPage={good}")
            )
            .status,
            200
        );
    }
}

#[test]
fn rule_included_data_enum() {
    let sb = start(5);
    let tok = token(&sb);
    let a = enc(&long_ago(&sb));
    expect_400(
        &sb,
        &tok,
        &format!("createdAfter={a}&includedData=BUYER,ADDRESS"),
        "includedData",
    );
}

#[test]
fn pagination_walks_every_order_once_and_last_page_has_none() {
    let sb = start(57);
    let tok = token(&sb);
    let a = enc(&long_ago(&sb));
    let base = format!(
        "createdAfter={a}&fulfillmentStatuses=PENDING,UNSHIPPED,SHIPPED,CANCELLED,PARTIALLY_SHIPPED"
    );
    let first = search(&sb, &tok, &format!("{base}&maxResultsPerPage=10")).json_body();
    assert_eq!(first["orders"].as_array().map(Vec::len), Some(10));
    let echo = first["createdBefore"].as_str().expect("createdBefore echo");
    assert_eq!(echo, clock::fmt(sb.now() - Duration::minutes(2)));
    let mut ids: Vec<String> = first["orders"]
        .as_array()
        .expect("orders")
        .iter()
        .map(|o| o["orderId"].as_str().unwrap_or("").to_owned())
        .collect();
    let mut next = first["pagination"]["nextToken"].as_str().map(str::to_owned);
    let mut pages = 1;
    let tok0 = next.clone().expect("token");
    assert!(
        tok0.contains('+') && tok0.contains('/'),
        "token needs encoding: {tok0}"
    );
    while let Some(t) = next {
        // maxResultsPerPage and includedData may change between pages.
        let r = search(
            &sb,
            &tok,
            &format!(
                "{base}&maxResultsPerPage=7&includedData=BUYER&paginationToken={}",
                enc(&t)
            ),
        );
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let body = r.json_body();
        valid_orders("SearchOrdersResponse", &body);
        assert_eq!(body["createdBefore"].as_str(), Some(echo));
        ids.extend(
            body["orders"]
                .as_array()
                .expect("orders")
                .iter()
                .map(|o| o["orderId"].as_str().unwrap_or("").to_owned()),
        );
        next = body["pagination"]["nextToken"].as_str().map(str::to_owned);
        if next.is_none() {
            assert!(body.get("pagination").is_none());
        }
        pages += 1;
    }
    let unique: BTreeSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "no order twice");
    let visible = sb
        .order_ids()
        .iter()
        .filter_map(|id| sb.order(id))
        .filter(|o| o["createdTime"].as_str() <= Some(echo))
        .count();
    assert!(visible > 50, "{visible}");
    assert_eq!(ids.len(), visible);
    assert_eq!(pages, 1 + (visible - 10).div_ceil(7));
    // A token sent without percent-encoding loses its `+` and is refused.
    let r = search(&sb, &tok, &format!("{base}&paginationToken={tok0}"));
    assert_eq!(r.status, 400);
}

#[test]
fn pagination_token_refused_with_changed_parameters() {
    let sb = start(30);
    let tok = token(&sb);
    let a = enc(&long_ago(&sb));
    let first = search(&sb, &tok, &format!("createdAfter={a}&maxResultsPerPage=5")).json_body();
    let t = enc(first["pagination"]["nextToken"].as_str().expect("token"));
    expect_400(
        &sb,
        &tok,
        &format!("createdAfter={a}&marketplaceIds=A1805IZSGTT6HS&paginationToken={t}"),
        "different parameters",
    );
    let other = enc(&clock::fmt(sb.now() - Duration::days(11)));
    expect_400(
        &sb,
        &tok,
        &format!("createdAfter={other}&paginationToken={t}"),
        "different parameters",
    );
    expect_400(
        &sb,
        &tok,
        &format!("createdAfter={a}&paginationToken=bm9wZQ%3D%3D"),
        "not valid",
    );
    assert_eq!(
        search(&sb, &tok, &format!("createdAfter={a}&paginationToken={t}")).status,
        200
    );
}

#[test]
fn pagination_token_expires_after_24_hours() {
    let sb = start(30);
    let tok = token(&sb);
    let a = enc(&long_ago(&sb));
    let first = search(&sb, &tok, &format!("createdAfter={a}&maxResultsPerPage=5")).json_body();
    let t = enc(first["pagination"]["nextToken"].as_str().expect("token"));
    sb.advance(Duration::hours(23));
    let tok = token(&sb);
    assert_eq!(
        search(&sb, &tok, &format!("createdAfter={a}&paginationToken={t}")).status,
        200
    );
    sb.advance(Duration::hours(1) + Duration::minutes(1));
    let tok = token(&sb);
    expect_400(
        &sb,
        &tok,
        &format!("createdAfter={a}&paginationToken={t}"),
        "expired",
    );
}

#[test]
fn filters_select_marketplace_status_and_fulfilled_by() {
    let sb = start(200);
    let tok = token(&sb);
    let a = enc(&long_ago(&sb));
    let nl = search(
        &sb,
        &tok,
        &format!("createdAfter={a}&marketplaceIds=A1805IZSGTT6HS,A1PA6795UKMFR9"),
    )
    .json_body();
    let nl = nl["orders"].as_array().expect("orders");
    assert!(!nl.is_empty());
    assert!(nl.iter().all(|o| matches!(
        o["salesChannel"]["marketplaceId"].as_str(),
        Some("A1805IZSGTT6HS" | "A1PA6795UKMFR9")
    )));
    let r = search(
        &sb,
        &tok,
        &format!(
            "createdAfter={a}&fulfillmentStatuses=CANCELLED&includedData=FULFILLMENT,CANCELLATION"
        ),
    )
    .json_body();
    let cancelled = r["orders"].as_array().expect("orders");
    assert!(cancelled.iter().all(|o| status_of(o) == "CANCELLED"));
    for o in cancelled {
        assert!(
            o["orderItems"][0]["cancellation"]["cancellationExecution"]["cancelledBy"].is_string()
        );
    }
    let fba = search(&sb, &tok, &format!("createdAfter={a}&fulfilledBy=AMAZON")).json_body();
    assert_eq!(fba["orders"].as_array().map(Vec::len), Some(0));
    let mut order = sb.order(&sb.order_ids()[0]).expect("order");
    order["orderId"] = json!("999-1111111-2222222");
    order["fulfillment"]["fulfilledBy"] = json!("AMAZON");
    order["fulfillment"]["fulfillmentStatus"] = json!("SHIPPED");
    sb.add_order(order).expect("adds");
    let fba = search(
        &sb,
        &tok,
        &format!("createdAfter={a}&fulfilledBy=AMAZON&includedData=FULFILLMENT"),
    )
    .json_body();
    let fba = fba["orders"].as_array().expect("orders");
    assert_eq!(fba.len(), 1);
    assert_eq!(status_of(&fba[0]), "SHIPPED");
}

// ---------------------------------------------------------------------------------------------
// Auth and LWA

#[test]
fn lwa_issues_tokens_and_rejects_bad_credentials() {
    let sb = start(1);
    let ok = lwa(
        &sb,
        &lwa_form(
            creds::LWA_CLIENT_ID,
            creds::LWA_CLIENT_SECRET,
            creds::REFRESH_TOKEN,
        ),
    );
    assert_eq!(ok.status, 200);
    let b = ok.json_body();
    assert_eq!(b["token_type"], json!("bearer"));
    assert_eq!(b["expires_in"], json!(3600));
    assert!(
        b["access_token"]
            .as_str()
            .is_some_and(|t| t.starts_with("Atza|"))
    );
    assert_eq!(b["refresh_token"], json!(creds::REFRESH_TOKEN));

    let r = lwa(
        &sb,
        &lwa_form(creds::LWA_CLIENT_ID, creds::LWA_CLIENT_SECRET, "Atzr|wrong"),
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.json_body()["error"], json!("invalid_grant"));
    assert!(r.json_body()["error_description"].is_string());
    let r = lwa(
        &sb,
        &lwa_form(creds::LWA_CLIENT_ID, "old-secret", creds::REFRESH_TOKEN),
    );
    assert_eq!(r.status, 401);
    assert_eq!(r.json_body()["error"], json!("invalid_client"));
    let r = lwa(
        &sb,
        b"grant_type=client_credentials&client_id=x&client_secret=y",
    );
    assert_eq!(r.json_body()["error"], json!("unsupported_grant_type"));
    let r = lwa(&sb, b"client_id=x");
    assert_eq!(r.json_body()["error"], json!("invalid_request"));
    let r = sb.call(&Request::from_target(
        "POST",
        "/auth/o2/token",
        &[("content-type", "application/json")],
        b"{}",
    ));
    assert_eq!(r.status, 400);
}

#[test]
fn access_token_expires_after_3600_sandbox_seconds() {
    let sb = start(3);
    let tok = token(&sb);
    let q = format!("createdAfter={}", enc(&long_ago(&sb)));
    assert_eq!(search(&sb, &tok, &q).status, 200);
    sb.advance(Duration::seconds(3590));
    assert_eq!(search(&sb, &tok, &q).status, 200);
    sb.advance(Duration::seconds(11));
    let r = search(&sb, &tok, &q);
    assert_eq!(r.status, 403);
    assert_eq!(error_code(&r), "Unauthorized");
    assert_eq!(error_message(&r), "Access to requested resource is denied.");
    valid_orders("ErrorList", &r.json_body());
    let fresh = token(&sb);
    assert_eq!(search(&sb, &fresh, &q).status, 200);
    sb.expire_access_tokens();
    assert_eq!(search(&sb, &fresh, &q).status, 403);
}

#[test]
fn auth_errors_have_the_real_shapes() {
    let sb = start(3);
    let q = "/orders/2026-01-01/orders?createdAfter=2026-01-01T00:00:00Z";
    let r = sb.call(&Request::from_target("GET", q, &[("user-agent", UA)], b""));
    assert_eq!(r.status, 403);
    assert_eq!(error_code(&r), "MissingAuthenticationToken");
    valid_orders("ErrorList", &r.json_body());
    let r = get(&sb, "Atza|made-up", q);
    assert_eq!(r.status, 403);
    assert_eq!(error_code(&r), "Unauthorized");
    assert_eq!(error_message(&r), "Access to requested resource is denied.");
    let tok = token(&sb);
    let r = sb.call(&Request::from_target(
        "GET",
        q,
        &[("x-amz-access-token", &tok)],
        b"",
    ));
    assert_eq!(r.status, 400, "user-agent is required");
    let r = get(&sb, &tok, "/orders/v0/orders");
    assert_eq!(r.status, 403);
    assert_eq!(error_code(&r), "MissingAuthenticationToken");
}

// ---------------------------------------------------------------------------------------------
// Rate limits

#[test]
fn search_orders_throttles_after_burst_and_refills_on_the_clock() {
    let sb = Sandbox::start(SandboxConfig {
        rate_limits: true,
        ..config(3)
    })
    .expect("starts");
    let tok = token(&sb);
    let q = format!("createdAfter={}", enc(&long_ago(&sb)));
    for i in 0..20 {
        let r = search(&sb, &tok, &q);
        assert_eq!(r.status, 200, "request {i}");
        assert_eq!(r.header("x-amzn-RateLimit-Limit"), Some("0.0056"));
    }
    let r = search(&sb, &tok, &q);
    assert_eq!(r.status, 429);
    assert_eq!(
        r.json_body(),
        json!({"errors":[{"code":"QuotaExceeded","message":"You exceeded your quota for the requested resource."}]})
    );
    assert!(r.header("x-amzn-RequestId").is_some());
    valid_orders("ErrorList", &r.json_body());
    sb.advance(Duration::seconds(180));
    assert_eq!(search(&sb, &tok, &q).status, 200);
    assert_eq!(search(&sb, &tok, &q).status, 429);
    // Other operations have their own buckets.
    let id = sb.order_ids()[0].clone();
    for _ in 0..30 {
        assert_eq!(
            get(&sb, &tok, &format!("/orders/2026-01-01/orders/{id}")).status,
            200
        );
    }
    assert_eq!(
        get(&sb, &tok, &format!("/orders/2026-01-01/orders/{id}")).status,
        429
    );
    sb.set_rate_limits(false);
    for _ in 0..40 {
        assert_eq!(search(&sb, &tok, &q).status, 200);
    }
}

#[test]
fn rate_limit_header_is_per_real_second_under_time_scale() {
    let sb = Sandbox::start(SandboxConfig {
        rate_limits: true,
        time_scale: 60.0,
        ..config(2)
    })
    .expect("starts");
    let tok = token(&sb);
    let r = get(
        &sb,
        &tok,
        &format!("/orders/2026-01-01/orders/{}", sb.order_ids()[0]),
    );
    assert_eq!(r.header("x-amzn-RateLimit-Limit"), Some("30"));
    let r = search(&sb, &tok, &format!("createdAfter={}", enc(&long_ago(&sb))));
    assert_eq!(r.header("x-amzn-RateLimit-Limit"), Some("0.336"));
}

// ---------------------------------------------------------------------------------------------
// Faults

fn fault_run(seed: u64, spec: &str) -> Vec<u16> {
    let sb = Sandbox::start(SandboxConfig {
        seed,
        generate: 5,
        rate_limits: false,
        faults: spec.parse().expect("spec"),
        ..SandboxConfig::default()
    })
    .expect("starts");
    sb.set_faults(FaultSpec::none());
    let tok = token(&sb);
    sb.set_faults(spec.parse().expect("spec"));
    let id = sb.order_ids()[0].clone();
    (0..300)
        .map(|_| get(&sb, &tok, &format!("/orders/2026-01-01/orders/{id}")).status)
        .collect()
}

#[test]
fn faults_are_deterministic_under_a_seed() {
    let spec = "500=0.05,503=0.05,429=0.1,drop=0.02";
    let a = fault_run(11, spec);
    assert_eq!(a, fault_run(11, spec));
    assert_ne!(a, fault_run(12, spec));
    let count = |s: u16| a.iter().filter(|x| **x == s).count();
    assert!(
        count(500) > 3 && count(503) > 3,
        "500s {} 503s {}",
        count(500),
        count(503)
    );
    assert!(count(429) > 30, "429 bursts: {}", count(429));
    assert!(count(0) > 0, "drops");
    assert!(count(200) > 150);
}

#[test]
fn expire_fault_kills_the_token_and_body_faults_break_json() {
    let sb = start(3);
    let tok = token(&sb);
    let target = format!("/orders/2026-01-01/orders/{}", sb.order_ids()[0]);
    sb.set_faults("expire=1".parse().expect("spec"));
    let r = get(&sb, &tok, &target);
    assert_eq!(r.status, 403);
    sb.set_faults(FaultSpec::none());
    assert_eq!(
        get(&sb, &tok, &target).status,
        403,
        "the token stays expired"
    );
    let tok = token(&sb);
    for spec in ["truncate=1", "malformed=1"] {
        sb.set_faults(spec.parse().expect("spec"));
        let r = get(&sb, &tok, &target);
        assert_eq!(r.status, 200);
        assert!(
            serde_json::from_slice::<Value>(&r.body).is_err(),
            "{spec} body still parses"
        );
    }
    sb.set_faults(FaultSpec::none());
    let recs = sb.records();
    assert!(recs.iter().any(|r| r["fault"] == json!("truncate")));
}

#[test]
fn drop_fault_ends_the_exchange_without_an_http_answer() {
    let sb = Sandbox::start(SandboxConfig {
        faults: "drop=1".parse().expect("spec"),
        ..config(2)
    })
    .expect("starts");
    let (status, text) = http_get(sb.addr(), "/_ecb/rates?date=2026-08-03", "");
    assert_eq!(status, 0, "got an HTTP answer: {text}");
    assert!(!text.starts_with("HTTP/1.1"));
}

// ---------------------------------------------------------------------------------------------
// confirmShipment

fn confirm_body(order: &Value, reference: &str, items: &[(String, i64)]) -> Value {
    json!({
        "marketplaceId": order["salesChannel"]["marketplaceId"],
        "packageDetail": {
            "packageReferenceId": reference,
            "carrierCode": "Other",
            "carrierName": "PostNL",
            "shippingMethod": "Standard",
            "trackingNumber": "3SABCD1234567",
            "shipDate": clock::fmt(time::macros::datetime!(2026-09-01 07:00 UTC)),
            "orderItems": items.iter().map(|(i, q)| json!({"orderItemId": i, "quantity": q})).collect::<Vec<_>>(),
        }
    })
}

fn items_of(order: &Value) -> Vec<(String, i64)> {
    order["orderItems"]
        .as_array()
        .expect("items")
        .iter()
        .map(|it| {
            (
                it["orderItemId"].as_str().unwrap_or("").to_owned(),
                it["quantityOrdered"].as_i64().unwrap_or(0),
            )
        })
        .collect()
}

fn find_order(sb: &Sandbox, pred: impl Fn(&Value) -> bool) -> Value {
    sb.order_ids()
        .iter()
        .filter_map(|id| sb.order(id))
        .find(|o| pred(o))
        .expect("a matching generated order")
}

#[test]
fn confirm_shipment_ships_the_order_and_later_searches_see_it() {
    let sb = start(120);
    let tok = token(&sb);
    let order = find_order(&sb, |o| {
        status_of(o) == "UNSHIPPED" && o["orderItems"].as_array().map_or(0, Vec::len) == 1
    });
    let id = order["orderId"].as_str().expect("id").to_owned();
    let before_update = order["lastUpdatedTime"].clone();
    let r = post(
        &sb,
        &tok,
        &format!("/orders/v0/orders/{id}/shipmentConfirmation"),
        &confirm_body(&order, "1", &items_of(&order)),
    );
    assert_eq!(r.status, 204, "{}", String::from_utf8_lossy(&r.body));
    assert!(r.body.is_empty());
    assert_eq!(
        r.header("x-amzn-RateLimit-Limit"),
        Some("1000"),
        "limits off: unmetered"
    );
    let now = order_now(&sb, &id);
    assert_eq!(status_of(&now), "SHIPPED");
    assert_ne!(now["lastUpdatedTime"], before_update);
    let pkg = &now["packages"][0];
    assert_eq!(pkg["carrier"], json!("PostNL"));
    assert_eq!(pkg["trackingNumber"], json!("3SABCD1234567"));
    assert_eq!(pkg["shipTime"], json!("2026-09-01T07:00:00Z"));
    assert_eq!(
        pkg["packageItems"][0]["quantity"],
        json!(items_of(&order)[0].1)
    );
    valid_orders("Order", &now);
    assert_eq!(
        now["orderItems"][0]["fulfillment"]["quantityUnfulfilled"],
        json!(0)
    );
    assert_eq!(sb.shipments().len(), 1);
    // A lastUpdated search started before the confirmation sees the order once 2 min passed.
    let after = enc(&clock::fmt(sb.now() - Duration::minutes(1)));
    sb.advance(Duration::minutes(3));
    let tok = token(&sb);
    let found = search(
        &sb,
        &tok,
        &format!("lastUpdatedAfter={after}&includedData=FULFILLMENT,PACKAGES"),
    )
    .json_body();
    let found = found["orders"].as_array().expect("orders");
    assert!(
        found
            .iter()
            .any(|o| o["orderId"] == json!(id) && status_of(o) == "SHIPPED")
    );
}

fn order_now(sb: &Sandbox, id: &str) -> Value {
    sb.order(id).expect("order")
}

#[test]
fn partial_confirmation_then_rest_and_idempotent_repeat() {
    let sb = start(200);
    let tok = token(&sb);
    let order = find_order(&sb, |o| {
        status_of(o) == "UNSHIPPED" && o["orderItems"].as_array().map_or(0, Vec::len) >= 2
    });
    let id = order["orderId"].as_str().expect("id").to_owned();
    let items = items_of(&order);
    let path = format!("/orders/v0/orders/{id}/shipmentConfirmation");
    let first = confirm_body(&order, "1", &items[..1]);
    assert_eq!(post(&sb, &tok, &path, &first).status, 204);
    assert_eq!(status_of(&order_now(&sb, &id)), "PARTIALLY_SHIPPED");
    // Same package, same data: accepted again, nothing added.
    assert_eq!(post(&sb, &tok, &path, &first).status, 204);
    assert_eq!(
        order_now(&sb, &id)["packages"].as_array().map(Vec::len),
        Some(1)
    );
    // Same package id, other data: refused.
    let mut changed = first.clone();
    changed["packageDetail"]["trackingNumber"] = json!("3SOTHER");
    let r = post(&sb, &tok, &path, &changed);
    assert_eq!(r.status, 400);
    valid_v0("ConfirmShipmentErrorResponse", &r.json_body());
    // The rest in package 2.
    assert_eq!(
        post(&sb, &tok, &path, &confirm_body(&order, "2", &items[1..])).status,
        204
    );
    let now = order_now(&sb, &id);
    assert_eq!(status_of(&now), "SHIPPED");
    assert_eq!(now["packages"].as_array().map(Vec::len), Some(2));
    // Nothing left to ship.
    let r = post(&sb, &tok, &path, &confirm_body(&order, "3", &items[..1]));
    assert_eq!(r.status, 400);
    assert!(error_message(&r).contains("exceeds"));
}

#[test]
fn confirm_shipment_validates_package_detail() {
    let sb = start(120);
    let tok = token(&sb);
    let order = find_order(&sb, |o| status_of(o) == "UNSHIPPED");
    let id = order["orderId"].as_str().expect("id").to_owned();
    let path = format!("/orders/v0/orders/{id}/shipmentConfirmation");
    let good = confirm_body(&order, "1", &items_of(&order));
    let mut cases: Vec<(Value, &str)> = Vec::new();
    let mut with = |f: &dyn Fn(&mut Value), needle: &'static str| {
        let mut b = good.clone();
        f(&mut b);
        cases.push((b, needle));
    };
    with(
        &|b| b["packageDetail"]["packageReferenceId"] = json!(1),
        "not a number",
    );
    with(
        &|b| b["packageDetail"]["packageReferenceId"] = json!("0"),
        "positive integer",
    );
    with(
        &|b| b["packageDetail"]["packageReferenceId"] = json!("-1"),
        "positive integer",
    );
    with(
        &|b| b["packageDetail"]["packageReferenceId"] = json!("PKG1"),
        "positive integer",
    );
    with(
        &|b| {
            b["packageDetail"]
                .as_object_mut()
                .map(|m| m.remove("packageReferenceId"));
        },
        "packageReferenceId is required",
    );
    with(
        &|b| {
            b["packageDetail"]
                .as_object_mut()
                .map(|m| m.remove("carrierCode"));
        },
        "carrierCode is required",
    );
    with(
        &|b| {
            b["packageDetail"]
                .as_object_mut()
                .map(|m| m.remove("carrierName"));
        },
        "carrierName is required",
    );
    with(
        &|b| {
            b["packageDetail"]
                .as_object_mut()
                .map(|m| m.remove("trackingNumber"));
        },
        "trackingNumber",
    );
    with(
        &|b| b["packageDetail"]["shipDate"] = json!("02/21/2022"),
        "ISO 8601",
    );
    with(
        &|b| b["packageDetail"]["shipDate"] = json!("2020-01-01T00:00:00Z"),
        "before the order",
    );
    with(
        &|b| {
            b["packageDetail"]["orderItems"] =
                json!([{"orderItemId": "00000000000000", "quantity": 1}]);
        },
        "does not belong",
    );
    with(
        &|b| b["packageDetail"]["orderItems"][0]["quantity"] = json!(99),
        "exceeds",
    );
    with(
        &|b| b["packageDetail"]["orderItems"][0]["quantity"] = json!(0),
        "positive integer",
    );
    with(
        &|b| b["packageDetail"]["orderItems"] = json!([]),
        "must not be empty",
    );
    with(
        &|b| b["marketplaceId"] = json!("A1F83G8C2ARO7P"),
        "does not match",
    );
    with(
        &|b| {
            b.as_object_mut().map(|m| m.remove("marketplaceId"));
        },
        "marketplaceId is required",
    );
    with(
        &|b| {
            b.as_object_mut().map(|m| m.remove("packageDetail"));
        },
        "packageDetail is required",
    );
    for (body, needle) in cases {
        let r = post(&sb, &tok, &path, &body);
        assert_eq!(r.status, 400, "{needle}");
        assert!(
            error_message(&r).contains(needle),
            "{} lacks {needle}",
            error_message(&r)
        );
        valid_v0("ConfirmShipmentErrorResponse", &r.json_body());
    }
    let r = sb.call(&Request::from_target(
        "POST",
        &path,
        &[("x-amz-access-token", &tok), ("user-agent", UA)],
        b"{not json",
    ));
    assert_eq!(r.status, 400);
    assert!(sb.shipments().is_empty());
    // carrierCode other than Other needs no carrierName.
    let mut b = good.clone();
    b["packageDetail"]["carrierCode"] = json!("PostNL");
    b["packageDetail"]
        .as_object_mut()
        .map(|m| m.remove("carrierName"));
    assert_eq!(post(&sb, &tok, &path, &b).status, 204);
}

#[test]
fn confirm_shipment_refuses_cancelled_pending_and_unknown_orders() {
    let sb = start(300);
    let tok = token(&sb);
    let cancelled = find_order(&sb, |o| status_of(o) == "CANCELLED");
    let id = cancelled["orderId"].as_str().expect("id");
    let r = post(
        &sb,
        &tok,
        &format!("/orders/v0/orders/{id}/shipmentConfirmation"),
        &confirm_body(&cancelled, "1", &items_of(&cancelled)),
    );
    assert_eq!(r.status, 400);
    assert!(error_message(&r).contains("cancelled"));
    valid_v0("ConfirmShipmentErrorResponse", &r.json_body());
    let pending = find_order(&sb, |o| status_of(o) == "PENDING");
    let id = pending["orderId"].as_str().expect("id");
    let r = post(
        &sb,
        &tok,
        &format!("/orders/v0/orders/{id}/shipmentConfirmation"),
        &confirm_body(&pending, "1", &items_of(&pending)),
    );
    assert_eq!(r.status, 400);
    let r = post(
        &sb,
        &tok,
        "/orders/v0/orders/999-9999999-9999999/shipmentConfirmation",
        &confirm_body(&pending, "1", &[]),
    );
    assert_eq!(r.status, 404);
    valid_v0("ConfirmShipmentErrorResponse", &r.json_body());
    // A test can cancel an order at a time of its choosing.
    let o = find_order(&sb, |o| status_of(o) == "UNSHIPPED");
    let oid = o["orderId"].as_str().expect("id").to_owned();
    sb.set_order_status(&oid, "CANCELLED", sb.now() + Duration::hours(1))
        .expect("sets");
    assert_eq!(status_of(&order_now(&sb, &oid)), "UNSHIPPED");
    sb.advance(Duration::hours(2));
    assert_eq!(status_of(&order_now(&sb, &oid)), "CANCELLED");
}

// ---------------------------------------------------------------------------------------------
// Feeds

fn strip_base(sb: &Sandbox, url: &str) -> String {
    url.strip_prefix(&sb.url())
        .expect("url on the sandbox")
        .to_owned()
}

fn upload(sb: &Sandbox, url: &str, ctype: &str, body: &[u8]) -> Response {
    sb.call(&Request::from_target(
        "PUT",
        &strip_base(sb, url),
        &[("content-type", ctype)],
        body,
    ))
}

const PDF: &[u8] = b"%PDF-1.7\n% sandbox test invoice\n%%EOF\n";

struct Upload {
    feed_id: String,
}

fn upload_invoice(sb: &Sandbox, tok: &str, marketplace: &str, options: &Value) -> Upload {
    let r = post(
        sb,
        tok,
        "/feeds/2021-06-30/documents",
        &json!({"contentType": "application/pdf"}),
    );
    assert_eq!(r.status, 201);
    let doc = r.json_body();
    valid_feeds("CreateFeedDocumentResponse", &doc);
    let url = doc["url"].as_str().expect("url");
    assert_eq!(upload(sb, url, "application/pdf", PDF).status, 200);
    let r = post(
        sb,
        tok,
        "/feeds/2021-06-30/feeds",
        &json!({
            "feedType": "UPLOAD_VAT_INVOICE",
            "marketplaceIds": [marketplace],
            "inputFeedDocumentId": doc["feedDocumentId"],
            "feedOptions": options,
        }),
    );
    assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
    valid_feeds("CreateFeedResponse", &r.json_body());
    Upload {
        feed_id: r.json_body()["feedId"].as_str().expect("feedId").to_owned(),
    }
}

/// Polls to the end and returns the processing report text.
fn report(sb: &Sandbox, tok: &str, up: &Upload) -> String {
    let mut seen = Vec::new();
    let feed = loop {
        let r = get(sb, tok, &format!("/feeds/2021-06-30/feeds/{}", up.feed_id));
        assert_eq!(r.status, 200);
        let f = r.json_body();
        valid_feeds("Feed", &f);
        let st = f["processingStatus"].as_str().expect("status").to_owned();
        seen.push(st.clone());
        if st == "DONE" || st == "FATAL" {
            break f;
        }
        assert!(seen.len() < 5);
    };
    assert_eq!(seen[..2], ["IN_QUEUE".to_owned(), "IN_PROGRESS".to_owned()]);
    let doc_id = feed["resultFeedDocumentId"].as_str().expect("result doc");
    let r = get(sb, tok, &format!("/feeds/2021-06-30/documents/{doc_id}"));
    assert_eq!(r.status, 200);
    valid_feeds("FeedDocument", &r.json_body());
    let url = r.json_body()["url"].as_str().expect("url").to_owned();
    let r = sb.call(&Request::from_target(
        "GET",
        &strip_base(sb, &url),
        &[],
        b"",
    ));
    assert_eq!(r.status, 200);
    String::from_utf8(r.body).expect("text report")
}

fn invoice_options(order: &Value, number: &str) -> Value {
    let tax = order["proceeds"]["breakdowns"]
        .as_array()
        .expect("breakdowns")
        .iter()
        .find(|b| b["type"] == json!("TAX"))
        .expect("TAX")["subtotal"]["amount"]
        .clone();
    json!({
        "metadata:orderid": order["orderId"],
        "metadata:invoicenumber": number,
        "metadata:documenttype": "Invoice",
        "metadata:totalamount": order["proceeds"]["grandTotal"]["amount"],
        "metadata:totalvatamount": tax,
    })
}

#[test]
fn invoice_upload_flow_accepts_matching_totals() {
    let sb = start(100);
    let tok = token(&sb);
    let order = find_order(&sb, |o| {
        status_of(o) == "UNSHIPPED" && o["salesChannel"]["marketplaceId"] == json!("A1805IZSGTT6HS")
    });
    let up = upload_invoice(
        &sb,
        &tok,
        "A1805IZSGTT6HS",
        &invoice_options(&order, "NL-2026-000001"),
    );
    let text = report(&sb, &tok, &up);
    assert!(text.contains("Number of records successful\t\t1"), "{text}");
    let feeds = sb.uploaded_feeds();
    assert_eq!(feeds.len(), 1);
    assert_eq!(feeds[0].document, PDF);
    assert!(feeds[0].accepted);
    assert_eq!(feeds[0].processing_status, "DONE");
    assert_eq!(
        feeds[0].feed_options["metadata:invoicenumber"],
        "NL-2026-000001"
    );
}

#[test]
fn invoice_reports_hold_per_document_errors() {
    let sb = start(300);
    let tok = token(&sb);
    let nl = find_order(&sb, |o| {
        status_of(o) == "UNSHIPPED" && o["salesChannel"]["marketplaceId"] == json!("A1805IZSGTT6HS")
    });
    let nl_id = "A1805IZSGTT6HS";

    let mut wrong = invoice_options(&nl, "NL-1");
    let total = dec(&nl["proceeds"]["grandTotal"]) + Decimal::new(1, 2);
    wrong["metadata:totalamount"] = json!(format!("{total:.2}"));
    let text = report(&sb, &tok, &upload_invoice(&sb, &tok, nl_id, &wrong));
    assert!(
        text.contains("\t79513\t") && text.contains("does not match"),
        "{text}"
    );
    assert!(text.contains("Number of records successful\t\t0"));

    let ok = invoice_options(&nl, "NL-2");
    assert!(report(&sb, &tok, &upload_invoice(&sb, &tok, nl_id, &ok)).contains("successful\t\t1"));
    let text = report(&sb, &tok, &upload_invoice(&sb, &tok, nl_id, &ok));
    assert!(text.contains("\t79520\t"), "duplicate number: {text}");

    let text = report(
        &sb,
        &tok,
        &upload_invoice(
            &sb,
            &tok,
            nl_id,
            &json!({"metadata:orderid": nl["orderId"]}),
        ),
    );
    assert!(
        text.contains("79513")
            && text.contains("metadata:invoicenumber")
            && text.contains("metadata:totalamount"),
        "{text}"
    );

    let mut unknown = invoice_options(&nl, "NL-3");
    unknown["metadata:orderid"] = json!("999-0000000-0000000");
    assert!(report(&sb, &tok, &upload_invoice(&sb, &tok, nl_id, &unknown)).contains("\t79511\t"));

    let be = find_order(&sb, |o| {
        status_of(o) == "UNSHIPPED" && o["salesChannel"]["marketplaceId"] == json!("AMEN7PMS3EDWL")
    });
    let text = report(
        &sb,
        &tok,
        &upload_invoice(&sb, &tok, "AMEN7PMS3EDWL", &invoice_options(&be, "BE-1")),
    );
    assert!(text.contains("\t79530\t"), "{text}");

    let mut credit = invoice_options(&nl, "CN-1");
    credit["metadata:documenttype"] = json!("CreditNote");
    assert!(
        report(&sb, &tok, &upload_invoice(&sb, &tok, nl_id, &credit))
            .contains("metadata:transactionid")
    );
    credit["metadata:transactionid"] = json!("amzn1.refund.123");
    assert!(
        report(&sb, &tok, &upload_invoice(&sb, &tok, nl_id, &credit)).contains("successful\t\t1")
    );
    assert_eq!(sb.uploaded_feeds().iter().filter(|f| f.accepted).count(), 2);
}

#[test]
fn upload_url_rules_content_type_pdf_and_expiry() {
    let sb = start(3);
    let tok = token(&sb);
    let r = post(&sb, &tok, "/feeds/2021-06-30/documents", &json!({}));
    assert_eq!(r.status, 400);
    valid_feeds("ErrorList", &r.json_body());
    let doc = post(
        &sb,
        &tok,
        "/feeds/2021-06-30/documents",
        &json!({"contentType": "application/pdf"}),
    )
    .json_body();
    let url = doc["url"].as_str().expect("url");
    let r = upload(&sb, url, "application/octet-stream", PDF);
    assert_eq!(r.status, 403);
    assert!(String::from_utf8_lossy(&r.body).contains("SignatureDoesNotMatch"));
    assert_eq!(
        upload(&sb, url, "application/pdf", b"<html>not a pdf</html>").status,
        400
    );
    let mut bad_sig = url.replace("X-Amz-Signature=", "X-Amz-Signature=0");
    bad_sig.push('0');
    assert_eq!(upload(&sb, &bad_sig, "application/pdf", PDF).status, 403);
    sb.advance(Duration::minutes(5) + Duration::seconds(1));
    let r = upload(&sb, url, "application/pdf", PDF);
    assert_eq!(r.status, 403);
    assert!(String::from_utf8_lossy(&r.body).contains("expired"));
    // Never uploaded → the feed ends FATAL with a report.
    let up = upload_invoice_without_pdf(&sb, &tok, doc["feedDocumentId"].as_str().expect("id"));
    assert!(report(&sb, &tok, &up).contains("never uploaded"));
    assert_eq!(sb.uploaded_feeds()[0].processing_status, "FATAL");
}

fn upload_invoice_without_pdf(sb: &Sandbox, tok: &str, doc_id: &str) -> Upload {
    let r = post(
        sb,
        tok,
        "/feeds/2021-06-30/feeds",
        &json!({
            "feedType": "UPLOAD_VAT_INVOICE", "marketplaceIds": ["A1805IZSGTT6HS"], "inputFeedDocumentId": doc_id,
        }),
    );
    assert_eq!(r.status, 202);
    Upload {
        feed_id: r.json_body()["feedId"].as_str().expect("id").to_owned(),
    }
}

#[test]
fn create_feed_checks_body_and_role() {
    let sb = start(3);
    let tok = token(&sb);
    let doc = post(
        &sb,
        &tok,
        "/feeds/2021-06-30/documents",
        &json!({"contentType": "application/pdf"}),
    )
    .json_body();
    let id = doc["feedDocumentId"].clone();
    for body in [
        json!({"marketplaceIds": ["A1805IZSGTT6HS"], "inputFeedDocumentId": id}),
        json!({"feedType": "UPLOAD_VAT_INVOICE", "marketplaceIds": [], "inputFeedDocumentId": id}),
        json!({"feedType": "UPLOAD_VAT_INVOICE", "marketplaceIds": ["A1805IZSGTT6HS"]}),
        json!({"feedType": "UPLOAD_VAT_INVOICE", "marketplaceIds": ["A1805IZSGTT6HS"], "inputFeedDocumentId": "badDocumentId"}),
        json!({"feedType": "UPLOAD_VAT_INVOICE", "marketplaceIds": ["A1805IZSGTT6HS"], "inputFeedDocumentId": id, "feedOptions": {"metadata:totalamount": 12.5}}),
    ] {
        let r = post(&sb, &tok, "/feeds/2021-06-30/feeds", &body);
        assert_eq!(r.status, 400, "{body}");
        valid_feeds("ErrorList", &r.json_body());
    }
    sb.set_roles("dtc-shipping".parse().expect("roles"));
    let r = post(
        &sb,
        &tok,
        "/feeds/2021-06-30/feeds",
        &json!({"feedType": "UPLOAD_VAT_INVOICE", "marketplaceIds": ["A1805IZSGTT6HS"], "inputFeedDocumentId": id}),
    );
    assert_eq!(r.status, 403);
    assert_eq!(error_code(&r), "Unauthorized");
    assert_eq!(get(&sb, &tok, "/feeds/2021-06-30/feeds/123").status, 404);
    assert_eq!(
        get(&sb, &tok, "/feeds/2021-06-30/documents/nope").status,
        404
    );
}

// ---------------------------------------------------------------------------------------------
// ECB

#[test]
fn ecb_rates_are_synthetic_deterministic_and_dated() {
    let sb = start(1);
    let r = sb.call(&Request::from_target(
        "GET",
        "/_ecb/rates?date=2026-08-03",
        &[],
        b"",
    ));
    assert_eq!(r.status, 200);
    let b = r.json_body();
    assert_eq!(b["base"], json!("EUR"));
    assert_eq!(b["date"], json!("2026-08-03"));
    assert_eq!(b["synthetic"], json!(true));
    for c in ["SEK", "PLN", "GBP"] {
        assert!(
            b["rates"][c]
                .as_str()
                .and_then(|s| s.parse::<Decimal>().ok())
                .is_some(),
            "{c}"
        );
    }
    let again = sb
        .call(&Request::from_target(
            "GET",
            "/_ecb/rates?date=2026-08-03",
            &[],
            b"",
        ))
        .json_body();
    assert_eq!(b, again);
    let sat = sb
        .call(&Request::from_target(
            "GET",
            "/_ecb/rates?date=2026-08-08",
            &[],
            b"",
        ))
        .json_body();
    assert_eq!(sat["date"], json!("2026-08-07"));
    assert_eq!(
        sb.call(&Request::from_target(
            "GET",
            "/_ecb/rates?date=08-03-2026",
            &[],
            b""
        ))
        .status,
        400
    );
    assert_eq!(
        sb.call(&Request::from_target("GET", "/_ecb/rates", &[], b""))
            .status,
        400
    );
    assert_eq!(
        sb.call(&Request::from_target(
            "GET",
            "/_ecb/rates?date=2027-01-04",
            &[],
            b""
        ))
        .status,
        404
    );
}

// ---------------------------------------------------------------------------------------------
// Generator

#[test]
fn generator_is_deterministic_per_seed() {
    let start = DEFAULT_START;
    let a = generate(50, 5, start);
    assert_eq!(a, generate(50, 5, start));
    assert_ne!(a, generate(50, 6, start));
    assert_eq!(a.len(), 50);
}

#[test]
fn generated_orders_are_schema_valid_and_realistic() {
    let orders = generate(1000, 42, DEFAULT_START);
    let mut by_market: HashMap<String, usize> = HashMap::new();
    let (mut b2b, mut multi, mut promo, mut shipping, mut po_box, mut company_line, mut multi_line) =
        (0, 0, 0, 0, 0, 0, 0);
    let mut ids = BTreeSet::new();
    let mut rates = BTreeSet::new();
    for o in &orders {
        valid_orders("Order", o);
        let id = o["orderId"].as_str().expect("id");
        let parts: Vec<usize> = id.split('-').map(str::len).collect();
        assert_eq!(parts, [3, 7, 7], "{id}");
        assert!(ids.insert(id.to_owned()), "duplicate id {id}");
        let mkt = o["salesChannel"]["marketplaceId"]
            .as_str()
            .expect("mkt")
            .to_owned();
        let m = data::market_by_id(&mkt).expect("known market");
        *by_market.entry(m.country.to_owned()).or_default() += 1;
        let email = o["buyer"]["buyerEmail"].as_str().unwrap_or("");
        if !email.is_empty() {
            assert!(
                email.ends_with(&format!("@marketplace.amazon.{}", m.mail_tld)),
                "{email}"
            );
        }
        if o["programs"]
            .as_array()
            .is_some_and(|p| p.contains(&json!("AMAZON_BUSINESS")))
        {
            b2b += 1;
            assert!(o["buyer"]["buyerCompanyName"].is_string());
            if status_of(o) == "PENDING" {
                continue;
            }
            let regs = o["tax"]["taxRegistrations"]
                .as_array()
                .expect("registrations");
            let buyer = regs
                .iter()
                .find(|r| r["entityType"] == json!("BUYER"))
                .expect("buyer VAT");
            let vat = buyer["taxRegistrationNumber"].as_str().expect("number");
            assert!(vat.starts_with(m.country), "{vat} for {}", m.country);
        }
        let items = o["orderItems"].as_array().expect("items");
        if items.len() > 1 {
            multi += 1;
        }
        let a = &o["recipient"]["deliveryAddress"];
        if a["addressLine1"]
            .as_str()
            .is_some_and(|l| l.starts_with("Postbus") || l.starts_with("Postfach"))
        {
            po_box += 1;
        }
        if a["companyName"].is_string() {
            company_line += 1;
        }
        if a["addressLine2"].is_string() {
            multi_line += 1;
        }
        let Some(proceeds) = o.get("proceeds") else {
            continue;
        };
        let cur = m.currency;
        assert_eq!(proceeds["grandTotal"]["currencyCode"], json!(cur));
        let mut sum_total = Decimal::ZERO;
        let mut sum_tax = Decimal::ZERO;
        for it in items {
            let bd = it["proceeds"]["breakdowns"].as_array().expect("breakdowns");
            let get = |t: &str| {
                bd.iter()
                    .filter(|b| b["type"] == json!(t))
                    .map(|b| dec(&b["subtotal"]))
                    .sum::<Decimal>()
            };
            if bd.iter().any(|b| b["type"] == json!("DISCOUNT")) {
                promo += 1;
                assert!(get("DISCOUNT") < Decimal::ZERO);
                assert!(it["promotion"]["breakdowns"][0]["promotionId"].is_string());
            }
            if get("SHIPPING") > Decimal::ZERO {
                shipping += 1;
            }
            let total = dec(&it["proceeds"]["proceedsTotal"]);
            assert_eq!(
                total,
                get("ITEM") + get("SHIPPING") + get("DISCOUNT"),
                "{id}"
            );
            let unit = dec(&it["product"]["price"]["unitPrice"]);
            assert_eq!(
                get("ITEM"),
                unit * Decimal::from(it["quantityOrdered"].as_i64().expect("qty"))
            );
            sum_total += total;
            sum_tax += get("TAX");
        }
        assert_eq!(dec(&proceeds["grandTotal"]), sum_total, "{id}");
        let order_tax = proceeds["breakdowns"]
            .as_array()
            .expect("bd")
            .iter()
            .find(|b| b["type"] == json!("TAX"))
            .map(|b| dec(&b["subtotal"]))
            .expect("TAX");
        assert_eq!(order_tax, sum_tax, "{id}");
        // Single-rate orders: VAT = round(gross × r / (100 + r)) with one of the market's rates.
        if items.len() == 1 && !sum_total.is_zero() {
            let found = [0usize, 1, 2]
                .iter()
                .map(|i| Decimal::new(m.rates[*i], 1))
                .chain([Decimal::ZERO])
                .find(|r| {
                    (sum_total * r / (Decimal::ONE_HUNDRED + r)).round_dp_with_strategy(
                        2,
                        rust_decimal::RoundingStrategy::MidpointAwayFromZero,
                    ) == order_tax
                });
            assert!(
                found.is_some(),
                "{id}: tax {order_tax} of {sum_total} matches no {} rate",
                m.country
            );
            rates.insert(found.map(|r| r.to_string()).unwrap_or_default());
        }
    }
    let nl = by_market["NL"];
    assert!((520..=680).contains(&nl), "NL share {nl}");
    for c in ["DE", "BE", "FR", "IT", "ES", "SE", "PL"] {
        assert!(
            by_market.get(c).copied().unwrap_or(0) > 3,
            "{c}: {by_market:?}"
        );
    }
    assert!((60..=140).contains(&b2b), "b2b {b2b}");
    assert!(multi > 150, "multi-item {multi}");
    assert!(promo > 40, "promotions {promo}");
    assert!(shipping > 100, "shipping charges {shipping}");
    assert!((1..30).contains(&po_box), "PO boxes {po_box}");
    assert!(
        company_line > 40 && multi_line > 50,
        "company {company_line}, multi-line {multi_line}"
    );
    assert!(rates.len() >= 5, "VAT rates seen: {rates:?}");
}

#[test]
fn timelines_change_orders_as_the_clock_advances() {
    let sb = start(400);
    let count = |sb: &Sandbox| {
        let mut c: HashMap<String, usize> = HashMap::new();
        for id in sb.order_ids() {
            if let Some(o) = sb.order(&id) {
                *c.entry(status_of(&o).to_owned()).or_default() += 1;
            }
        }
        c
    };
    let before = count(&sb);
    let stamps: HashMap<String, Value> = sb
        .order_ids()
        .iter()
        .filter_map(|id| Some((id.clone(), sb.order(id)?["lastUpdatedTime"].clone())))
        .collect();
    assert!(
        before.get("PENDING").copied().unwrap_or(0) > 0,
        "{before:?}"
    );
    sb.advance(Duration::days(4));
    let after = count(&sb);
    assert!(
        after.get("PENDING").copied().unwrap_or(0) < before["PENDING"],
        "{before:?} → {after:?}"
    );
    assert!(
        after.get("CANCELLED").copied().unwrap_or(0)
            > before.get("CANCELLED").copied().unwrap_or(0),
        "{before:?} → {after:?}"
    );
    assert!(
        after.get("SHIPPED").copied().unwrap_or(0) >= before.get("SHIPPED").copied().unwrap_or(0)
    );
    let changed = sb
        .order_ids()
        .iter()
        .filter(|id| sb.order(id).map(|o| o["lastUpdatedTime"].clone()) != stamps.get(*id).cloned())
        .count();
    assert!(changed > 10, "only {changed} orders changed");
}

#[test]
fn orders_file_is_served_instead_and_the_model_example_loads() {
    let dir = std::env::temp_dir().join(format!("fulfil-sbx-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("orders.json");
    // The UK example order from the model's own sandbox block (`x-amzn-api-sandbox`).
    let orders_model = model("orders_2026-01-01.json");
    let uk = orders_model["paths"]["/orders/2026-01-01/orders"]["get"]["responses"]["200"]
        ["x-amzn-api-sandbox"]["static"][1]["response"]["orders"][0]
        .clone();
    assert!(uk["orderId"].is_string(), "the model's sandbox example");
    let mut orders = generate(5, 3, DEFAULT_START);
    orders.push(uk.clone());
    std::fs::write(&path, json!({ "orders": orders }).to_string()).expect("write");
    let sb = Sandbox::start(SandboxConfig {
        orders_file: Some(path.clone()),
        ..config(0)
    })
    .expect("starts");
    assert_eq!(sb.order_ids().len(), 6);
    let tok = token(&sb);
    let r = get(
        &sb,
        &tok,
        &format!(
            "/orders/2026-01-01/orders/{}?includedData={}",
            uk["orderId"].as_str().expect("id"),
            all_included()
        ),
    );
    assert_eq!(r.status, 200);
    valid_orders("GetOrderResponse", &r.json_body());
    assert_eq!(
        r.json_body()["order"]["packages"][0]["carrier"],
        json!("DPD")
    );
    let all = all_orders(&sb, &tok);
    assert_eq!(
        all.len(),
        5,
        "the 2024 example is outside the 12-day window"
    );
    assert_eq!(load_orders(&path).expect("loads").len(), 6);
    std::fs::write(&path, "{\"orders\": [{\"orderId\": 5}]}").expect("write");
    assert!(
        Sandbox::start(SandboxConfig {
            orders_file: Some(path),
            ..config(0)
        })
        .is_err()
    );
    let _ = std::fs::remove_dir_all(dir);
}

// ---------------------------------------------------------------------------------------------
// Recording

#[test]
fn records_redact_secrets_and_go_to_the_file() {
    let dir = std::env::temp_dir().join(format!("fulfil-sbx-rec-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("rec.jsonl");
    let sb = Sandbox::start(SandboxConfig {
        record: Some(path.clone()),
        ..config(3)
    })
    .expect("starts");
    let tok = token(&sb);
    let _ = search(
        &sb,
        &tok,
        "createdAfter=2026-08-01T00:00:00Z&includedData=BUYER,RECIPIENT",
    );
    let doc = post(
        &sb,
        &tok,
        "/feeds/2021-06-30/documents",
        &json!({"contentType": "application/pdf"}),
    )
    .json_body();
    let _ = upload(
        &sb,
        doc["url"].as_str().expect("url"),
        "application/pdf",
        PDF,
    );
    let recs = sb.records();
    assert_eq!(recs.len(), 4);
    let text = std::fs::read_to_string(&path).expect("record file");
    assert_eq!(text.lines().count(), 4);
    assert!(!text.contains(&tok), "access token leaked");
    assert!(!text.contains(creds::LWA_CLIENT_SECRET) && !text.contains(creds::REFRESH_TOKEN));
    assert_eq!(recs[0]["api"], json!("lwa"));
    assert_eq!(recs[0]["body"]["client_secret"], json!("[redacted]"));
    assert_eq!(recs[0]["body"]["grant_type"], json!("refresh_token"));
    assert_eq!(recs[1]["operation"], json!("searchOrders"));
    assert_eq!(
        recs[1]["headers"]["x-amz-access-token"],
        json!("[redacted]")
    );
    assert_eq!(recs[1]["query"]["includedData"], json!("BUYER,RECIPIENT"));
    assert_eq!(recs[1]["status"], json!(200));
    assert_eq!(recs[2]["body"]["contentType"], json!("application/pdf"));
    assert_eq!(recs[3]["body"]["pdfBytes"], json!(PDF.len()));
    sb.clear_records();
    assert!(sb.records().is_empty());
    drop(sb);
    let _ = std::fs::remove_dir_all(dir);
}

// ---------------------------------------------------------------------------------------------
// Server

#[test]
fn listens_on_loopback_only() {
    for addr in ["0.0.0.0:0", "192.168.1.10:0", "[::]:0"] {
        let cfg = SandboxConfig {
            listen: addr.parse().expect("addr"),
            ..config(1)
        };
        let err = Sandbox::start(cfg).expect_err("refused");
        assert!(err.to_string().contains("loopback"), "{err}");
    }
    assert!(
        Sandbox::start(SandboxConfig {
            time_scale: 0.0,
            ..config(1)
        })
        .is_err()
    );
    let sb = start(1);
    assert_ne!(sb.addr().port(), 0);
    assert!(sb.url().starts_with("http://127.0.0.1:"));
}

#[test]
fn serves_over_http_concurrently() {
    let sb = start(20);
    let tok = token(&sb);
    let addr = sb.addr();
    let id = sb.order_ids()[0].clone();
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let tok = tok.clone();
            let id = id.clone();
            std::thread::spawn(move || {
                (0..10)
                    .map(|_| {
                        http_get(
                            addr,
                            &format!("/orders/2026-01-01/orders/{id}"),
                            &format!("x-amz-access-token: {tok}\r\nuser-agent: {UA}\r\n"),
                        )
                        .0
                    })
                    .collect::<Vec<u16>>()
            })
        })
        .collect();
    for h in handles {
        assert!(h.join().expect("thread").iter().all(|s| *s == 200));
    }
    let (status, text) = http_get(addr, "/_sandbox/now", "");
    assert_eq!(status, 200, "{text}");
    assert_eq!(sb.records().len(), 81, "control calls are not recorded");
}

#[test]
fn huge_bodies_get_413_and_junk_never_panics() {
    let sb = start(5);
    let big = vec![b'a'; MAX_BODY + 10];
    let mut req = format!(
        "POST /feeds/2021-06-30/documents HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        big.len()
    )
    .into_bytes();
    req.extend_from_slice(&big);
    let out = raw_http(sb.addr(), &req).expect("connects");
    assert!(
        String::from_utf8_lossy(&out).starts_with("HTTP/1.1 413"),
        "{}",
        String::from_utf8_lossy(&out[..out.len().min(200)])
    );
    let recs = sb.records();
    assert_eq!(recs.last().map(|r| r["status"].clone()), Some(json!(413)));
    // Absurd clock jumps are capped, so date arithmetic never overflows.
    let far = sb.call(&Request::from_target(
        "POST",
        "/_sandbox/advance?seconds=9223372036854775807",
        &[],
        b"",
    ));
    assert_eq!(far.status, 200);
    assert!(sb.now() < DEFAULT_START + Duration::days(36_600));
    let _ = token(&sb);
    assert_eq!(
        recs.last().map(|r| r["operation"].clone()),
        Some(json!("createFeedDocument"))
    );
    let tok = token(&sb);
    for target in [
        "/orders/2026-01-01/orders?%zz&&=&a=%&createdAfter=%E2%82",
        "/orders/2026-01-01/orders/%00%ff",
        "/feeds/2021-06-30/feeds/",
        "//",
        "/orders/v0/orders//shipmentConfirmation",
    ] {
        let r = get(&sb, &tok, target);
        assert!(
            matches!(r.status, 400 | 403 | 404),
            "{target}: {}",
            r.status
        );
    }
    let junk: &[&[u8]] = &[
        b"\xff\xfe\x00",
        b"[]",
        b"null",
        b"{\"packageDetail\": {\"orderItems\": [null, 5]}}",
    ];
    let id = sb.order_ids()[0].clone();
    for body in junk {
        let r = sb.call(&Request::from_target(
            "POST",
            &format!("/orders/v0/orders/{id}/shipmentConfirmation"),
            &[("x-amz-access-token", &tok), ("user-agent", UA)],
            body,
        ));
        assert_eq!(r.status, 400);
        let r = sb.call(&Request::from_target(
            "POST",
            "/feeds/2021-06-30/feeds",
            &[("x-amz-access-token", &tok), ("user-agent", UA)],
            body,
        ));
        assert_eq!(r.status, 400);
        let r = sb.call(&Request::from_target(
            "POST",
            "/auth/o2/token",
            &[("content-type", "application/x-www-form-urlencoded")],
            body,
        ));
        assert_eq!(r.status, 400);
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    #[test]
    fn any_request_gets_an_answer(method in "(GET|POST|PUT|DELETE)", path in "/[a-z0-9_/%.-]{0,40}", query in "[ -~]{0,60}", body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
        static SB: OnceLock<Sandbox> = OnceLock::new();
        let sb = SB.get_or_init(|| start(5));
        let target = format!("{path}?{query}");
        let r = sb.call(&Request::from_target(&method, &target, &[("x-amz-access-token", "Atza|x"), ("user-agent", UA), ("content-type", "application/json")], &body));
        proptest::prop_assert!((200..600).contains(&r.status));
    }

    #[test]
    fn percent_decoding_never_panics(s in "\\PC{0,40}") {
        let _ = percent_decode(&s, true);
        let _ = parse_form(s.as_bytes());
    }
}

#[test]
fn time_scale_runs_token_expiry_faster() {
    let sb = Sandbox::start(SandboxConfig {
        time_scale: 36_000.0,
        ..config(2)
    })
    .expect("starts");
    let tok = token(&sb);
    let target = format!("/orders/2026-01-01/orders/{}", sb.order_ids()[0]);
    // 0.2 real seconds are two sandbox hours at this scale.
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert!(sb.now() > DEFAULT_START + Duration::hours(1));
    assert_eq!(get(&sb, &tok, &target).status, 403);
}

#[test]
fn slow_fault_delays_the_answer() {
    let sb = Sandbox::start(SandboxConfig {
        faults: "slow=1:150ms".parse().expect("spec"),
        ..config(1)
    })
    .expect("starts");
    let t0 = std::time::Instant::now();
    let (status, _) = http_get(sb.addr(), "/_ecb/rates?date=2026-08-03", "");
    assert_eq!(status, 200);
    assert!(t0.elapsed() >= std::time::Duration::from_millis(150));
    assert_eq!(sb.records()[0]["fault"], json!("slow"));
}

#[test]
fn roles_parse_and_print() {
    for s in [
        "all",
        "none",
        "dtc-shipping",
        "tax-invoicing,tax-remittance",
    ] {
        let r: Roles = s.parse().expect("parses");
        assert_eq!(r.to_string(), s);
    }
    assert_eq!(
        "dtc-shipping,tax-invoicing,tax-remittance"
            .parse::<Roles>()
            .expect("all"),
        Roles::ALL
    );
    assert!("admin".parse::<Roles>().is_err());
}

// ---------------------------------------------------------------------------------------------
// Issue #15, item 8: the sandbox's own time in every answer

/// Every answer (LWA, SP-API, PostNL, an unknown path, the controls) carries a `Date`
/// header in the RFC 7231 form, read from the sandbox clock and not the host's, so that a
/// client can compare its clock with the service's as it would with Amazon's.
#[test]
fn every_answer_has_a_date_header_from_the_sandbox_clock() {
    let sb = start(3);
    sb.advance(Duration::days(400) + Duration::seconds(7));
    let tok = token(&sb);
    let answers = [
        lwa(&sb, b"grant_type=refresh_token"),
        get(
            &sb,
            &tok,
            "/orders/2026-01-01/orders?marketplaceIds=A1805IZSGTT6HS",
        ),
        get(&sb, &tok, "/no/such/path"),
        sb.call(&Request::from_target(
            "GET",
            "/shipment/v2_2/label",
            &[],
            b"",
        )),
        sb.call(&Request::from_target("GET", "/_sandbox/now", &[], b"")),
    ];
    for r in answers {
        let date = r
            .header("date")
            .unwrap_or_else(|| panic!("no Date header on a {} answer: {:?}", r.status, r.headers));
        let fmt = time::macros::format_description!(
            "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
        );
        let t = time::PrimitiveDateTime::parse(date, &fmt)
            .unwrap_or_else(|e| panic!("`{date}` is not an IMF-fixdate: {e}"))
            .assume_utc();
        let now = sb.now();
        assert!(
            t <= now && now - t < Duration::seconds(5),
            "Date {date} is not the sandbox's time {now}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// TEDB: requests and answers against the Commission's XSDs (xmllint, Debian libxml2-utils)

/// The element `name` of a SOAP message as a document of its own, with the namespaces it
/// inherits from the envelope declared on it.
fn soap_payload(xml: &str, name: &str) -> String {
    let doc = roxmltree::Document::parse(xml).expect("XML");
    let node = doc
        .descendants()
        .find(|n| n.is_element() && n.tag_name().name() == name)
        .unwrap_or_else(|| panic!("no {name} in {xml}"));
    let text = &xml[node.range()];
    let tag_end = text.find(['>', '/']).expect("start tag");
    let own = &text[..tag_end];
    let mut decls = String::new();
    for ns in node.namespaces() {
        let attr = match ns.name() {
            Some(p) => format!("xmlns:{p}="),
            None => "xmlns=".to_owned(),
        };
        if !own.contains(&attr) {
            let _ = write!(decls, " {attr}\"{}\"", ns.uri());
        }
    }
    format!("{}{decls}{}", &text[..tag_end], &text[tag_end..])
}

/// Validates a document against specs/tedb/VatRetrievalServiceMessage.xsd.
fn xsd_valid(doc: &str) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("payload.xml");
    std::fs::write(&file, doc).unwrap();
    let out = std::process::Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(
            specs_root()
                .join("tedb")
                .join("VatRetrievalServiceMessage.xsd"),
        )
        .arg(&file)
        .output()
        .expect("xmllint runs (Debian: apt-get install libxml2-utils)");
    assert!(
        out.status.success(),
        "not valid against the TEDB schema: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        &doc[..doc.len().min(2000)]
    );
}

#[test]
fn tedb_requests_and_answers_match_the_commissions_schema() {
    let sb = Sandbox::start(SandboxConfig {
        rate_limits: false,
        ..SandboxConfig::default()
    })
    .expect("sandbox");
    crate::transport::install_crypto_provider();
    let http = crate::transport::client(std::time::Duration::from_secs(30)).unwrap();
    let url = format!("{}/_tedb/ws/VatRetrievalService", sb.url());
    let states = crate::invoice::rates::EU_MEMBER_STATES;
    for day in [
        time::macros::date!(2024 - 01 - 01),
        time::macros::date!(2028 - 02 - 15),
    ] {
        let req = crate::tedb::request_body(&states, day);
        xsd_valid(&soap_payload(&req, "retrieveVatRatesReqMsg"));
        let resp = http
            .post(&url)
            .header("soapaction", crate::tedb::SOAP_ACTION)
            .body(req)
            .send()
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        let body = resp.text().unwrap();
        xsd_valid(&soap_payload(&body, "retrieveVatRatesRespMsg"));
        let results = crate::tedb::parse(body.as_bytes()).unwrap();
        assert!(crate::tedb::missing_standard(&crate::tedb::pick(&results)).is_empty());
    }
    // A request the service refuses gets a fault whose detail is a retrieveVatRatesFaultMsg.
    let resp = http.post(&url).body("<nonsense/>").send().unwrap();
    assert_eq!(resp.status().as_u16(), 500);
    let body = resp.text().unwrap();
    xsd_valid(&soap_payload(&body, "retrieveVatRatesFaultMsg"));
}

// ---------------------------------------------------------------------------------------------
// Finances API v0 listFinancialEvents (issue #17)

fn financial_events(sb: &Sandbox, tok: &str, query: &str) -> Response {
    get(sb, tok, &format!("/finances/v0/financialEvents?{query}"))
}

/// Every refund event of the window, page by page; each page checked against the model.
fn all_refunds(sb: &Sandbox, tok: &str, after: OffsetDateTime, per_page: u32) -> (Vec<Value>, u32) {
    let base = format!(
        "PostedAfter={}&PostedBefore={}&MaxResultsPerPage={per_page}",
        enc(&clock::fmt(after)),
        enc(&clock::fmt(sb.now() - Duration::minutes(3)))
    );
    let (mut out, mut pages, mut q) = (Vec::new(), 0, base.clone());
    loop {
        let r = financial_events(sb, tok, &q);
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let body = r.json_body();
        valid_finances("ListFinancialEventsResponse", &body);
        pages += 1;
        let list = body["payload"]["FinancialEvents"]["RefundEventList"]
            .as_array()
            .unwrap();
        assert!(list.len() <= per_page as usize);
        out.extend(list.iter().cloned());
        match body["payload"]["NextToken"].as_str() {
            Some(t) => q = format!("{base}&NextToken={}", enc(t)),
            None => break,
        }
    }
    (out, pages)
}

#[test]
fn financial_events_serve_refunds_of_shipped_orders_in_the_models_shape() {
    let sb = start(600);
    let tok = token(&sb);
    let t0 = sb.now();
    // Nothing is shipped yet: no refunds.
    let (none, _) = all_refunds(&sb, &tok, t0 - Duration::days(30), 100);
    let generated_shipped = none.len();
    for id in sb.order_ids() {
        sb.set_order_status(&id, "SHIPPED", t0 + Duration::hours(1))
            .unwrap();
    }
    sb.advance(Duration::days(25));
    let tok = token(&sb);
    let (events, pages) = all_refunds(&sb, &tok, t0 - Duration::days(1), 7);
    let n = events.len() - generated_shipped;
    // About 5 % of 600 orders.
    assert!((12..=50).contains(&n), "{n} refunds");
    assert!(pages > 1, "paged");
    let mut kinds = BTreeSet::new();
    for e in &events {
        assert!(e["AmazonOrderId"].as_str().is_some_and(|s| !s.is_empty()));
        let posted = clock::parse(e["PostedDate"].as_str().unwrap()).unwrap();
        assert!(posted < sb.now() - Duration::minutes(2));
        for item in e["ShipmentItemAdjustmentList"].as_array().unwrap() {
            assert!(item["OrderAdjustmentItemId"].as_str().is_some());
            for c in item["ItemChargeAdjustmentList"].as_array().unwrap() {
                kinds.insert(c["ChargeType"].as_str().unwrap().to_owned());
            }
        }
    }
    for k in [
        "Principal",
        "ShippingCharge",
        "Goodwill",
        "RestockingFee",
        "Tax",
    ] {
        assert!(kinds.contains(k), "{k} missing from {kinds:?}");
    }
    // The same window read again gives the same events (deterministic).
    let (again, _) = all_refunds(&sb, &tok, t0 - Duration::days(1), 100);
    assert_eq!(again, events);
}

#[test]
fn financial_events_rules_answer_invalid_input() {
    let sb = start(0);
    let tok = token(&sb);
    let now = sb.now();
    let at = |t: OffsetDateTime| enc(&clock::fmt(t));
    for q in [
        "MaxResultsPerPage=0".to_string(),
        "MaxResultsPerPage=101".to_string(),
        format!("PostedBefore={}", at(now - Duration::hours(1))),
        format!("PostedAfter={}", at(now - Duration::minutes(1))),
        format!(
            "PostedAfter={}&PostedBefore={}",
            at(now - Duration::hours(2)),
            at(now - Duration::minutes(1))
        ),
        format!(
            "PostedAfter={}&PostedBefore={}",
            at(now - Duration::hours(2)),
            at(now - Duration::hours(3))
        ),
        "PostedAfter=yesterday".to_string(),
        format!(
            "PostedAfter={}&NextToken=forged",
            at(now - Duration::hours(2))
        ),
    ] {
        let r = financial_events(&sb, &tok, &q);
        assert_eq!(r.status, 400, "{q}");
        valid_finances("ListFinancialEventsResponse", &r.json_body());
        assert_eq!(r.json_body()["errors"][0]["code"], "InvalidInput", "{q}");
    }
    // A window over 180 days answers nothing.
    let r = financial_events(
        &sb,
        &tok,
        &format!(
            "PostedAfter={}&PostedBefore={}",
            at(now - Duration::days(200)),
            at(now - Duration::days(10))
        ),
    );
    assert_eq!(r.status, 200);
    valid_finances("ListFinancialEventsResponse", &r.json_body());
    // A refund a test adds is served once its posting time has passed.
    let event = json!({
        "AmazonOrderId": "028-0000001-0000001",
        "MarketplaceName": "Amazon.nl",
        "PostedDate": clock::fmt(now + Duration::hours(1)),
        "ShipmentItemAdjustmentList": [{
            "SellerSKU": "SKU-1", "OrderItemId": "1", "OrderAdjustmentItemId": "77",
            "QuantityShipped": 1,
            "ItemChargeAdjustmentList": [{"ChargeType": "Principal",
                "ChargeAmount": {"CurrencyCode": "EUR", "CurrencyAmount": -12.5}}]}]
    });
    sb.add_refund(event.clone()).unwrap();
    let q = |sb: &Sandbox| {
        format!("PostedAfter={}", at(now - Duration::days(1)))
            + &format!("&PostedBefore={}", at(sb.now() - Duration::minutes(3)))
    };
    let r = financial_events(&sb, &tok, &q(&sb));
    assert_eq!(
        r.json_body()["payload"]["FinancialEvents"]["RefundEventList"],
        json!([])
    );
    sb.advance(Duration::hours(2));
    let tok = token(&sb);
    let r = financial_events(&sb, &tok, &q(&sb));
    valid_finances("ListFinancialEventsResponse", &r.json_body());
    assert_eq!(
        r.json_body()["payload"]["FinancialEvents"]["RefundEventList"],
        json!([event])
    );
}
