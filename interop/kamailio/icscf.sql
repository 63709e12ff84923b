-- Tables of Kamailio's ims_icscf (its I-CSCF's S-CSCF list), for db_sqlite.
-- The interop tests create icscf.sqlite from this file and insert the S-CSCF.
CREATE TABLE version (table_name VARCHAR(32) NOT NULL, table_version INTEGER DEFAULT 0 NOT NULL);
CREATE TABLE nds_trusted_domains (id INTEGER PRIMARY KEY, trusted_domain VARCHAR(83) NOT NULL DEFAULT '');
CREATE TABLE s_cscf (id INTEGER PRIMARY KEY, name VARCHAR(83) NOT NULL DEFAULT '', s_cscf_uri VARCHAR(83) NOT NULL DEFAULT '');
CREATE TABLE s_cscf_capabilities (id INTEGER PRIMARY KEY, id_s_cscf INTEGER NOT NULL DEFAULT 0, capability INTEGER NOT NULL DEFAULT 0);
