import { generateKeyPairSync, randomUUID } from 'node:crypto';
import forge from 'node-forge';
import type { PairRecord } from '../nodes/lib/usb/lockdown';

/** What pairing leaves on each side: the host's record, and the device's own key. */
export interface Pairing {
  record: PairRecord;
  deviceKey: Buffer;
}

function rsaKey(): { privatePem: string; publicKey: forge.pki.PublicKey; privateKey: forge.pki.rsa.PrivateKey } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const privatePem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  return {
    privatePem,
    publicKey: forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString()),
    privateKey: forge.pki.privateKeyFromPem(privatePem) as forge.pki.rsa.PrivateKey,
  };
}

function certificate(subject: string, publicKey: forge.pki.PublicKey, issuer: string, signer: forge.pki.rsa.PrivateKey, ca: boolean): string {
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  cert.serialNumber = Date.now().toString(16) + Math.floor(Math.random() * 1e6).toString(16);
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 10 * 365 * 24 * 3600 * 1000);
  cert.setSubject([{ name: 'commonName', value: subject }]);
  cert.setIssuer([{ name: 'commonName', value: issuer }]);
  cert.setExtensions([{ name: 'basicConstraints', cA: ca }]);
  cert.sign(signer, forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

/** Pairs a host with a simulated phone: a root, a host and a device certificate, as iOS does. */
export function pair(udid: string): Pairing {
  const root = rsaKey();
  const host = rsaKey();
  const device = rsaKey();
  const rootCert = certificate('Root Certification Authority', root.publicKey, 'Root Certification Authority', root.privateKey, true);
  return {
    record: {
      HostID: randomUUID().toUpperCase(),
      SystemBUID: randomUUID().toUpperCase(),
      RootCertificate: Buffer.from(rootCert),
      HostCertificate: Buffer.from(certificate('Host', host.publicKey, 'Root Certification Authority', root.privateKey, false)),
      HostPrivateKey: Buffer.from(host.privatePem),
      DeviceCertificate: Buffer.from(certificate(udid, device.publicKey, 'Root Certification Authority', root.privateKey, false)),
    },
    deviceKey: Buffer.from(device.privatePem),
  };
}
