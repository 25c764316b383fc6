// A SCIM 2.0 target for the tests, built on SCIMMY and scimmy-routers.
//
// SCIMMY parses requests, applies filters, paging and PATCH operations, and
// formats responses; this file only stores Users and Groups in memory. Each
// tenant (the first path segment before /scim/v2) has its own resources, so
// every test starts with an empty target, and /scim/v2 is the "default" tenant.
//
// Usage: node server.js PORT, or PORT=... node server.js. The bearer token is
// read from SCIM_TOKEN, and every request without it gets a 401. The server
// listens on 127.0.0.1 only.

import {randomUUID} from "node:crypto";
import express from "express";
import SCIMMY from "scimmy";
import SCIMMYRouters from "scimmy-routers";

const port = Number(process.argv[2] ?? process.env.PORT);
const token = process.env.SCIM_TOKEN;

if (!Number.isInteger(port) || port <= 0) {
    console.error("Pass the port to listen on: node server.js PORT");
    process.exit(2);
}
if (!token) {
    console.error("Set SCIM_TOKEN to the bearer token the server accepts.");
    process.exit(2);
}

const tenants = new Map();

function tenantOf(name) {
    if (!tenants.has(name)) tenants.set(name, {users: new Map(), groups: new Map()});
    return tenants.get(name);
}

function notFound(id) {
    return new SCIMMY.Types.Error(404, null, `Resource ${id} not found`);
}

// Turn a SCIMMY schema instance into a plain object for storage.
function plain(instance) {
    const data = JSON.parse(JSON.stringify(instance));
    delete data.schemas;
    delete data.meta;
    delete data.id;
    return data;
}

function stamp(previous) {
    const now = new Date().toISOString();
    return {created: previous?.meta?.created ?? now, lastModified: now};
}

// userName and displayName are not case-exact (RFC 7643 4.1.1 and 4.2), so
// two values differing only in case clash too.
function ensureUnique(store, id, attribute, value, label) {
    const key = String(value ?? "").toLowerCase();
    for (const [otherId, other] of store) {
        if (otherId !== id && String(other[attribute] ?? "").toLowerCase() === key) {
            throw new SCIMMY.Types.Error(
                409, "uniqueness", `${label} '${value}' is already in use`);
        }
    }
}

function list(resource, store) {
    if (resource.id !== undefined) {
        const found = store.get(resource.id);
        if (!found) throw notFound(resource.id);
        return found;
    }
    const all = [...store.values()];
    return resource.filter ? resource.filter.match(all) : all;
}

function write(resource, store, instance, check) {
    const previous = resource.id === undefined ? undefined : store.get(resource.id);
    if (resource.id !== undefined && !previous) throw notFound(resource.id);

    const id = resource.id ?? randomUUID();
    const record = {...plain(instance), id, meta: stamp(previous)};
    check(id, record);
    store.set(id, record);
    return record;
}

// Members must name resources of the same tenant; a PATCH adding a member
// twice stores it once.
function checkMembers(tenant, record) {
    const seen = new Set();
    const members = [];
    for (const member of record.members ?? []) {
        if (!tenant.users.has(member.value) && !tenant.groups.has(member.value)) {
            throw new SCIMMY.Types.Error(
                400, "invalidValue", `Member '${member.value}' is not a known resource`);
        }
        if (seen.has(member.value)) continue;
        seen.add(member.value);
        members.push(member);
    }
    record.members = members;
}

SCIMMY.Resources.declare(SCIMMY.Resources.User)
    .egress((resource, tenant) => list(resource, tenantOf(tenant).users))
    .ingress((resource, instance, tenant) => {
        const {users} = tenantOf(tenant);
        return write(resource, users, instance, (id, record) =>
            ensureUnique(users, id, "userName", record.userName, "userName"));
    })
    .degress((resource, tenant) => {
        const {users, groups} = tenantOf(tenant);
        if (!users.delete(resource.id)) throw notFound(resource.id);
        // Drop a deleted user from its groups, so they list existing users only.
        for (const group of groups.values()) {
            group.members = (group.members ?? []).filter(m => m.value !== resource.id);
        }
    });

SCIMMY.Resources.declare(SCIMMY.Resources.Group)
    .egress((resource, tenant) => list(resource, tenantOf(tenant).groups))
    .ingress((resource, instance, tenant) => {
        const current = tenantOf(tenant);
        return write(resource, current.groups, instance, (id, record) => {
            ensureUnique(current.groups, id, "displayName", record.displayName, "displayName");
            checkMembers(current, record);
        });
    })
    .degress((resource, tenant) => {
        if (!tenantOf(tenant).groups.delete(resource.id)) throw notFound(resource.id);
    });

const app = express();

app.use(["/scim/v2", "/:tenant/scim/v2"], new SCIMMYRouters({
    type: "bearer",
    handler: (request) => {
        if (request.header("Authorization") !== `Bearer ${token}`) {
            throw new Error("The bearer token is missing or wrong.");
        }
        return "tests";
    },
    context: (request) => request.params.tenant ?? "default",
}));

app.listen(port, "127.0.0.1", () => {
    console.log(`SCIMMY target listening on http://127.0.0.1:${port}/scim/v2`);
});
