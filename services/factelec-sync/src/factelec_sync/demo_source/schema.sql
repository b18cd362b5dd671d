-- FACTELEC demo database: the part of a billing system's schema the CRM reads (suministros and who holds
-- them), with the habits of a system that has run for decades: a surrogate key beside the NIC (so a row
-- can lack one), status codes of one letter, and no foreign keys on suministros (a row may point to a
-- customer or municipality that is not there).
CREATE TABLE IF NOT EXISTS departamentos (
    id_departamento smallint PRIMARY KEY,
    codigo          char(2)     NOT NULL UNIQUE,
    nombre          varchar(40) NOT NULL UNIQUE
);

CREATE TABLE IF NOT EXISTS municipios (
    id_municipio    integer PRIMARY KEY,
    id_departamento smallint    NOT NULL REFERENCES departamentos,
    nombre          varchar(60) NOT NULL,
    UNIQUE (id_departamento, nombre)
);

CREATE TABLE IF NOT EXISTS tarifas (
    codigo_tarifa varchar(8)  PRIMARY KEY,
    descripcion   varchar(80) NOT NULL
);

CREATE TABLE IF NOT EXISTS clientes (
    id_cliente       bigint PRIMARY KEY,
    nombre_titular   varchar(150),
    tipo_documento   varchar(4)  NOT NULL DEFAULT 'DUI',  -- DUI (persona), NIT (empresa)
    numero_documento varchar(20),
    telefono         varchar(9),
    correo           varchar(120),
    fecha_alta       date        NOT NULL,
    fecha_actualizacion timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS suministros (
    id_suministro       bigint PRIMARY KEY,
    nic                 varchar(12),               -- NULL or blank in a few legacy rows
    id_cliente          bigint,
    direccion           varchar(200),
    id_municipio        integer,
    codigo_tarifa       varchar(8),
    numero_medidor      varchar(20),
    estado_conexion     varchar(2)  NOT NULL,      -- C conectado, D desconectado, S suspendido
    fecha_conexion      date,
    fecha_actualizacion timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX IF NOT EXISTS suministros_nic_uq ON suministros (nic) WHERE btrim(nic) <> '';
-- What the sync pages by: (update timestamp, key).
CREATE INDEX IF NOT EXISTS suministros_actualizacion ON suministros (fecha_actualizacion, id_suministro);
CREATE INDEX IF NOT EXISTS suministros_cliente ON suministros (id_cliente);
