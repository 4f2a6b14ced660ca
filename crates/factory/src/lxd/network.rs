//! The private network a package with MPI is verified on: a managed bridge
//! with no NAT and no uplink, so two instances reach each other and nothing
//! else.

use std::net::Ipv4Addr;

use serde::Deserialize;

use super::{is_not_found, lxc_says, Lxc};
use crate::error::{Error, Result};

/// LXD network names are interface names: 1–15 letters, digits and `-`.
pub fn is_network_name(name: &str) -> bool {
    (1..=15).contains(&name.len())
        && !name.starts_with('-')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// A bridge's own address and prefix length, `10.203.71.1/24`: LXD's
/// `ipv4.address`, and the range its instances' addresses come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subnet {
    pub gateway: Ipv4Addr,
    pub prefix: u8,
}

impl Subnet {
    /// Parses `A.B.C.D/N`; the reason says what is wrong, for people.
    pub fn parse(text: &str) -> std::result::Result<Subnet, String> {
        const FORM: &str = "the bridge's IPv4 address and prefix length, like 10.203.71.1/24";
        let (address, prefix) = text.split_once('/').ok_or_else(|| FORM.to_string())?;
        let gateway: Ipv4Addr = address.parse().map_err(|_| FORM.to_string())?;
        let prefix: u8 = prefix.parse().map_err(|_| FORM.to_string())?;
        if !(8..=29).contains(&prefix) {
            return Err(format!(
                "prefix length {prefix}: use 8 to 29 (room for the bridge and its instances)"
            ));
        }
        let subnet = Subnet { gateway, prefix };
        let host = u32::from(gateway) & !subnet.mask();
        if host == 0 || host == !subnet.mask() {
            return Err(format!(
                "{gateway} is the network's or broadcast address of /{prefix}: give the \
                 bridge's own address, like 10.203.71.1/24"
            ));
        }
        Ok(subnet)
    }

    fn mask(self) -> u32 {
        u32::MAX << (32 - self.prefix)
    }

    /// The addresses instances may take: all but the network's, the
    /// broadcast and the bridge's own, in order.
    pub fn instance_addresses(self) -> impl Iterator<Item = Ipv4Addr> {
        let network = u32::from(self.gateway) & self.mask();
        let last = network | !self.mask();
        let gateway = self.gateway;
        (network + 1..last)
            .map(Ipv4Addr::from)
            .filter(move |a| *a != gateway)
    }
}

impl std::fmt::Display for Subnet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.gateway, self.prefix)
    }
}

/// What `GET /1.0/networks/NAME` says of a network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkInfo {
    pub name: String,
    /// `bridge`, `physical`, `macvlan`, …
    pub kind: String,
    /// Made and run by LXD (its own dnsmasq and addresses).
    pub managed: bool,
    /// `ipv4.address`; `None` when it has none (or `none`).
    pub ipv4: Option<Subnet>,
    /// Whether LXD masquerades its traffic out of the host (an uplink).
    pub nat: bool,
}

impl NetworkInfo {
    /// Why verify cannot use this network, if it cannot.
    pub fn unusable(&self) -> Option<String> {
        if !self.managed || self.kind != "bridge" {
            return Some(format!(
                "`{}` is {} {} network, not a bridge LXD manages",
                self.name,
                if self.managed {
                    "a managed"
                } else {
                    "an unmanaged"
                },
                self.kind
            ));
        }
        if self.ipv4.is_none() {
            return Some(format!("`{}` has no IPv4 address", self.name));
        }
        None
    }
}

#[derive(Deserialize)]
struct ApiNetwork {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    managed: bool,
    #[serde(default)]
    config: std::collections::BTreeMap<String, String>,
}

impl Lxc {
    /// The network `name`, or `None` when there is none of that name.
    pub async fn network(&self, name: &str) -> Result<Option<NetworkInfo>> {
        if !is_network_name(name) {
            return Err(Error::InvalidValue {
                what: "network name",
                value: name.into(),
                reason: "1 to 15 letters, digits and `-`".into(),
            });
        }
        let api: ApiNetwork = match self.query(&format!("/1.0/networks/{name}")).await {
            Ok(api) => api,
            Err(e) if is_not_found(&e) => return Ok(None),
            Err(e) => return Err(e),
        };
        let ipv4 = api
            .config
            .get("ipv4.address")
            .and_then(|a| Subnet::parse(a).ok());
        Ok(Some(NetworkInfo {
            name: api.name,
            kind: api.kind,
            managed: api.managed,
            ipv4,
            nat: api.config.get("ipv4.nat").is_some_and(|v| v == "true"),
        }))
    }

    /// Creates a bridge with `subnet` and no NAT, IPv6 or uplink; `Ok` when
    /// another build made it at the same moment.
    pub async fn create_private_network(&self, name: &str, subnet: Subnet) -> Result<()> {
        let target = self.on_remote(name);
        let address = format!("ipv4.address={subnet}");
        let created = self
            .run(&[
                "network",
                "create",
                &target,
                &address,
                "ipv4.nat=false",
                "ipv6.address=none",
            ])
            .await;
        match created {
            Err(e) if lxc_says(&e, "already exists") => Ok(()),
            Err(Error::Lxc { stderr, .. }) => Err(Error::NetworkNotCreated {
                network: name.into(),
                subnet: subnet.to_string(),
                detail: stderr,
            }),
            other => other.map(drop),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnets_are_parsed_and_bad_ones_explained() {
        let s = Subnet::parse("10.203.71.1/24").unwrap();
        assert_eq!(s.to_string(), "10.203.71.1/24");
        let first: Vec<String> = s
            .instance_addresses()
            .take(2)
            .map(|a| a.to_string())
            .collect();
        assert_eq!(first, ["10.203.71.2", "10.203.71.3"]);
        assert_eq!(s.instance_addresses().count(), 253);
        // The bridge in the middle is skipped.
        let mid = Subnet::parse("192.168.5.9/29").unwrap();
        let all: Vec<String> = mid.instance_addresses().map(|a| a.to_string()).collect();
        assert_eq!(
            all,
            [
                "192.168.5.10",
                "192.168.5.11",
                "192.168.5.12",
                "192.168.5.13",
                "192.168.5.14"
            ]
        );
        for bad in [
            "10.203.71.1",
            "10.203.71/24",
            "10.203.71.1/33",
            "10.203.71.1/31",
            "x/24",
        ] {
            assert!(Subnet::parse(bad).is_err(), "{bad} accepted");
        }
        let err = Subnet::parse("10.203.71.0/24").unwrap_err();
        assert!(err.contains("network's or broadcast"), "{err}");
        let err = Subnet::parse("10.203.71.255/24").unwrap_err();
        assert!(err.contains("network's or broadcast"), "{err}");
    }

    #[test]
    fn network_names_are_interface_names() {
        assert!(is_network_name("sf-verify"));
        assert!(!is_network_name("a-name-that-is-too-long"));
        assert!(!is_network_name("-x"));
        assert!(!is_network_name("a b"));
        assert!(!is_network_name(""));
    }
}
