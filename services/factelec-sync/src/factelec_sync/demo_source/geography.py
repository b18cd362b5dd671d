"""The 14 departments of El Salvador and their municipalities (the 262 of the 1986-2024 division, which is
what a billing system that has run for decades still stores), plus names and streets for the generator."""

from __future__ import annotations

# fmt: off
# (code, department, municipalities); the first municipality is the department's capital.
DEPARTMENTS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        "AH",
        "Ahuachapán",
        (
            "Ahuachapán", "Apaneca", "Atiquizaya", "Concepción de Ataco", "El Refugio", "Guaymango",
            "Jujutla", "San Francisco Menéndez", "San Lorenzo", "San Pedro Puxtla", "Tacuba", "Turín",
        ),
    ),
    (
        "SA",
        "Santa Ana",
        (
            "Santa Ana", "Candelaria de la Frontera", "Chalchuapa", "Coatepeque", "El Congo",
            "El Porvenir", "Masahuat", "Metapán", "San Antonio Pajonal", "San Sebastián Salitrillo",
            "Santa Rosa Guachipilín", "Santiago de la Frontera", "Texistepeque",
        ),
    ),
    (
        "SO",
        "Sonsonate",
        (
            "Sonsonate", "Acajutla", "Armenia", "Caluco", "Cuisnahuat", "Izalco", "Juayúa", "Nahuizalco",
            "Nahulingo", "Salcoatitán", "San Antonio del Monte", "San Julián", "Santa Catarina Masahuat",
            "Santa Isabel Ishuatán", "Santo Domingo de Guzmán", "Sonzacate",
        ),
    ),
    (
        "CH",
        "Chalatenango",
        (
            "Chalatenango", "Agua Caliente", "Arcatao", "Azacualpa", "Citalá", "Comalapa",
            "Concepción Quezaltepeque", "Dulce Nombre de María", "El Carrizal", "El Paraíso", "La Laguna",
            "La Palma", "La Reina", "Las Vueltas", "Nombre de Jesús", "Nueva Concepción", "Nueva Trinidad",
            "Ojos de Agua", "Potonico", "San Antonio de la Cruz", "San Antonio Los Ranchos", "San Fernando",
            "San Francisco Lempa", "San Francisco Morazán", "San Ignacio", "San Isidro Labrador",
            "San José Cancasque", "San José Las Flores", "San Luis del Carmen", "San Miguel de Mercedes",
            "San Rafael", "Santa Rita", "Tejutla",
        ),
    ),
    (
        "LL",
        "La Libertad",
        (
            "Santa Tecla", "Antiguo Cuscatlán", "Chiltiupán", "Ciudad Arce", "Colón", "Comasagua",
            "Huizúcar", "Jayaque", "Jicalapa", "La Libertad", "Nuevo Cuscatlán", "Quezaltepeque",
            "Sacacoyo", "San José Villanueva", "San Juan Opico", "San Matías", "San Pablo Tacachico",
            "Talnique", "Tamanique", "Teotepeque", "Tepecoyo", "Zaragoza",
        ),
    ),
    (
        "SS",
        "San Salvador",
        (
            "San Salvador", "Aguilares", "Apopa", "Ayutuxtepeque", "Ciudad Delgado", "Cuscatancingo",
            "El Paisnal", "Guazapa", "Ilopango", "Mejicanos", "Nejapa", "Panchimalco", "Rosario de Mora",
            "San Marcos", "San Martín", "Santiago Texacuangos", "Santo Tomás", "Soyapango",
            "Tonacatepeque",
        ),
    ),
    (
        "CU",
        "Cuscatlán",
        (
            "Cojutepeque", "Candelaria", "El Carmen", "El Rosario", "Monte San Juan",
            "Oratorio de Concepción", "San Bartolomé Perulapía", "San Cristóbal", "San José Guayabal",
            "San Pedro Perulapán", "San Rafael Cedros", "San Ramón", "Santa Cruz Analquito",
            "Santa Cruz Michapa", "Suchitoto", "Tenancingo",
        ),
    ),
    (
        "PA",
        "La Paz",
        (
            "Zacatecoluca", "Cuyultitán", "El Rosario", "Jerusalén", "Mercedes La Ceiba", "Olocuilta",
            "Paraíso de Osorio", "San Antonio Masahuat", "San Emigdio", "San Francisco Chinameca",
            "San Juan Nonualco", "San Juan Talpa", "San Juan Tepezontes", "San Luis La Herradura",
            "San Luis Talpa", "San Miguel Tepezontes", "San Pedro Masahuat", "San Pedro Nonualco",
            "San Rafael Obrajuelo", "Santa María Ostuma", "Santiago Nonualco", "Tapalhuaca",
        ),
    ),
    (
        "CA",
        "Cabañas",
        (
            "Sensuntepeque", "Cinquera", "Dolores", "Guacotecti", "Ilobasco", "Jutiapa", "San Isidro",
            "Tejutepeque", "Victoria",
        ),
    ),
    (
        "SV",
        "San Vicente",
        (
            "San Vicente", "Apastepeque", "Guadalupe", "San Cayetano Istepeque", "San Esteban Catarina",
            "San Ildefonso", "San Lorenzo", "San Sebastián", "Santa Clara", "Santo Domingo", "Tecoluca",
            "Tepetitán", "Verapaz",
        ),
    ),
    (
        "US",
        "Usulután",
        (
            "Usulután", "Alegría", "Berlín", "California", "Concepción Batres", "El Triunfo",
            "Ereguayquín", "Estanzuelas", "Jiquilisco", "Jucuapa", "Jucuarán", "Mercedes Umaña",
            "Nueva Granada", "Ozatlán", "Puerto El Triunfo", "San Agustín", "San Buenaventura",
            "San Dionisio", "San Francisco Javier", "Santa Elena", "Santa María", "Santiago de María",
            "Tecapán",
        ),
    ),
    (
        "SM",
        "San Miguel",
        (
            "San Miguel", "Carolina", "Chapeltique", "Chinameca", "Chirilagua", "Ciudad Barrios",
            "Comacarán", "El Tránsito", "Lolotique", "Moncagua", "Nueva Guadalupe", "Nuevo Edén de San Juan",
            "Quelepa", "San Antonio del Mosco", "San Gerardo", "San Jorge", "San Luis de la Reina",
            "San Rafael Oriente", "Sesori", "Uluazapa",
        ),
    ),
    (
        "MO",
        "Morazán",
        (
            "San Francisco Gotera", "Arambala", "Cacaopera", "Chilanga", "Corinto", "Delicias de Concepción",
            "El Divisadero", "El Rosario", "Gualococti", "Guatajiagua", "Joateca", "Jocoaitique", "Jocoro",
            "Lolotiquillo", "Meanguera", "Osicala", "Perquín", "San Carlos", "San Fernando", "San Isidro",
            "San Simón", "Sensembra", "Sociedad", "Torola", "Yamabal", "Yoloaiquín",
        ),
    ),
    (
        "UN",
        "La Unión",
        (
            "La Unión", "Anamorós", "Bolívar", "Concepción de Oriente", "Conchagua", "El Carmen", "El Sauce",
            "Intipucá", "Lislique", "Meanguera del Golfo", "Nueva Esparta", "Pasaquina", "Polorós",
            "San Alejo", "San José", "Santa Rosa de Lima", "Yayantique", "Yucuaiquín",
        ),
    ),
)

# Where the supply points are: heavier in the departments a distributor like EDESAL serves most.
DEPARTMENT_WEIGHTS: dict[str, float] = {
    "LL": 5.0, "SS": 4.0, "SO": 2.0, "SA": 1.5, "PA": 1.5, "CU": 1.0, "AH": 1.0, "CH": 0.8, "CA": 0.6,
    "SV": 0.8, "US": 1.0, "SM": 1.0, "MO": 0.5, "UN": 0.6,
}

# SIGET tariff categories as a distributor codes them.
TARIFFS: tuple[tuple[str, str, float], ...] = (
    ("PD-RES", "Pequeña demanda residencial (hasta 10 kW)", 80.0),
    ("PD-GEN", "Pequeña demanda uso general (hasta 10 kW)", 12.0),
    ("PD-AP", "Pequeña demanda alumbrado público", 1.5),
    ("MD-BT", "Mediana demanda baja tensión (10 a 50 kW)", 3.5),
    ("MD-MT", "Mediana demanda media tensión (10 a 50 kW)", 1.0),
    ("GD-BT", "Gran demanda baja tensión (más de 50 kW)", 1.2),
    ("GD-MT", "Gran demanda media tensión (más de 50 kW)", 0.8),
)

FIRST_NAMES: tuple[str, ...] = (
    "José", "María", "Juan", "Ana", "Carlos", "Rosa", "Luis", "Carmen", "Jorge", "Marta", "Francisco",
    "Gloria", "Manuel", "Blanca", "Miguel", "Sandra", "Mario", "Ana Gladis", "Óscar", "Reina", "Roberto",
    "Silvia", "José Antonio", "María Elena", "Ricardo", "Patricia", "Julio", "Teresa", "Salvador", "Lorena",
    "Rafael", "Yesenia", "Pedro", "Xiomara", "Santos", "Dinora", "Raúl", "Karla", "Víctor", "Fátima",
    "Ernesto", "Claudia", "Wilfredo", "Evelyn", "Nelson", "Griselda", "Douglas", "Jacqueline", "Edwin",
    "Beatriz", "Rigoberto", "Marlene", "Amílcar", "Concepción", "Héctor", "Delmy", "René", "Milagro",
    "Alexander", "Krissia",
)
SURNAMES: tuple[str, ...] = (
    "Hernández", "López", "Martínez", "García", "Rodríguez", "Pérez", "Ramírez", "Flores", "Rivera",
    "González", "Cruz", "Sánchez", "Romero", "Aguilar", "Mejía", "Ramos", "Portillo", "Alvarado",
    "Guevara", "Menjívar", "Orellana", "Chávez", "Castillo", "Reyes", "Vásquez", "Argueta", "Ayala",
    "Escobar", "Quintanilla", "Molina", "Bonilla", "Landaverde", "Fuentes", "Cañas", "Henríquez",
    "Palacios", "Rosales", "Villalta", "Zelaya", "Serrano", "Amaya", "Contreras", "Galdámez", "Márquez",
    "Campos", "Valle", "Deras", "Figueroa", "Umaña", "Pineda",
)
COMPANIES: tuple[str, ...] = (
    "Inversiones {s}, S.A. de C.V.", "Comercial {s}, S.A. de C.V.", "Tienda {s}", "Panadería {s}",
    "Distribuidora {s}, S.A. de C.V.", "Alcaldía Municipal de {m}", "Centro Escolar {s}",
    "Beneficio de Café {s}", "Iglesia {s}", "Farmacia {s}", "Ferretería {s}",
)
NEIGHBOURHOODS: tuple[str, ...] = (
    "Colonia Escalón", "Colonia San Benito", "Colonia Miramonte", "Colonia Centroamérica", "Barrio El Centro",
    "Barrio San Miguelito", "Barrio El Calvario", "Barrio La Cruz", "Colonia Las Margaritas",
    "Residencial Los Cipreses", "Urbanización Santa Elena", "Residencial Altavista", "Colonia San Antonio",
    "Colonia Guadalupe", "Lotificación El Progreso", "Colonia Jardines de la Sabana", "Reparto Los Santos",
    "Colonia El Paraíso", "Residencial Las Palmeras", "Colonia Buenos Aires", "Barrio San José",
    "Colonia La Esperanza", "Urbanización Montebello", "Colonia Dolores", "Residencial San Luis",
)
STREETS: tuple[str, ...] = (
    "Calle Principal", "Avenida Independencia", "Calle El Progreso", "Avenida Las Palmeras",
    "Calle Los Almendros", "Pasaje Los Pinos", "Calle La Mascota", "Avenida Masferrer", "Calle Arce",
    "Avenida España", "Calle Delgado", "Calle Poniente", "Avenida Norte", "Avenida Sur", "Calle Oriente",
    "Pasaje Las Flores", "Senda Los Mangos", "Calle Antigua a Zacatecoluca", "Carretera Panamericana",
    "Carretera del Litoral",
)
CANTONS: tuple[str, ...] = (
    "El Matazano", "Los Amates", "El Zapote", "San Isidro", "El Jícaro", "Las Piletas", "El Rosario",
    "Los Naranjos", "La Ceiba", "El Sunzal", "Buenos Aires", "Agua Fría", "El Tablón", "Los Planes",
)
# fmt: on
