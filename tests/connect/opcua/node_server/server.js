// A throwaway node-opcua server for the hexmill OPC UA connector tests.
//
// Usage: node server.js <port> <pki-folder>
// Listens on 127.0.0.1:<port> (endpoint opc.tcp://127.0.0.1:<port>/hexmill), keeps its
// certificates under <pki-folder>, and prints "ready" once it accepts connections.
"use strict";

const path = require("path");
const {
    OPCUAServer,
    OPCUACertificateManager,
    Variant,
    DataType,
    StatusCodes,
    MessageSecurityMode,
    SecurityPolicy,
} = require("node-opcua");

const port = Number(process.argv[2]);
const pki = process.argv[3] || path.join(__dirname, "pki");
if (!Number.isInteger(port) || port <= 0) {
    console.error("usage: node server.js <port> [pki-folder]");
    process.exit(2);
}

async function main() {
    const certificateManager = (name) =>
        new OPCUACertificateManager({ rootFolder: path.join(pki, name), automaticallyAcceptUnknownCertificate: true });

    const server = new OPCUAServer({
        port,
        hostname: "127.0.0.1",
        resourcePath: "/hexmill",
        allowAnonymous: true,
        securityModes: [MessageSecurityMode.None, MessageSecurityMode.Sign, MessageSecurityMode.SignAndEncrypt],
        securityPolicies: [SecurityPolicy.None, SecurityPolicy.Basic256Sha256],
        serverCertificateManager: certificateManager("server"),
        userCertificateManager: certificateManager("user"),
        userManager: { isValidUser: (user, password) => user === "operator" && password === "s3cret" },
        buildInfo: { productName: "hexmill-test-server", manufacturerName: "hexmill tests" },
    });
    await server.initialize();

    const addressSpace = server.engine.addressSpace;
    const ns = addressSpace.getOwnNamespace();
    const press = ns.addObject({ organizedBy: addressSpace.rootFolder.objects, browseName: "Press", nodeId: "s=Press" });

    // Counter: a value that changes every 100 ms, so a subscription has something to deliver.
    let counter = 0;
    const timer = setInterval(() => {
        counter += 1;
    }, 100);
    ns.addVariable({
        componentOf: press,
        browseName: "Counter",
        nodeId: "s=Press.Counter",
        dataType: "Int32",
        minimumSamplingInterval: 50,
        value: { get: () => new Variant({ dataType: DataType.Int32, value: counter }) },
    });
    ns.addVariable({
        componentOf: press,
        browseName: "Temperature",
        nodeId: "s=Press.Temperature",
        dataType: "Double",
        value: { dataType: DataType.Double, value: 21.5 },
    });
    ns.addVariable({
        componentOf: press,
        browseName: "Running",
        nodeId: "s=Press.Running",
        dataType: "Boolean",
        value: { dataType: DataType.Boolean, value: true },
    });
    ns.addVariable({
        componentOf: press,
        browseName: "Recipe",
        nodeId: "s=Press.Recipe",
        dataType: "String",
        value: { dataType: DataType.String, value: "bracket-7" },
    });
    ns.addVariable({
        componentOf: press,
        browseName: "Profile",
        nodeId: "s=Press.Profile",
        dataType: "Double",
        valueRank: 1,
        arrayDimensions: [3],
        value: { dataType: DataType.Double, arrayType: 1, value: new Float64Array([1, 2, 3]) },
    });
    const broken = ns.addVariable({
        componentOf: press,
        browseName: "Broken",
        nodeId: "s=Press.Broken",
        dataType: "Double",
        value: { dataType: DataType.Double, value: 0 },
    });
    broken.setValueFromSource({ dataType: DataType.Double, value: 0 }, StatusCodes.BadSensorFailure);

    await server.start();
    console.log("ready");

    const shutdown = async () => {
        clearInterval(timer);
        await server.shutdown(0);
        process.exit(0);
    };
    process.on("SIGTERM", shutdown);
    process.on("SIGINT", shutdown);
}

main().catch((err) => {
    console.error(err);
    process.exit(1);
});
