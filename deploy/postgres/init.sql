-- Development only: one database per PostgreSQL service, created when the compose volume is new.
CREATE DATABASE xir_auth;
CREATE DATABASE xir_user;
