// Real certificates made at test time with the openssl CLI: a CA, server certificates
// (valid, expired, wrong host, self-signed) and a client certificate for mTLS.
import { execFileSync } from 'node:child_process'
import { createHash, X509Certificate } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export type KeyPair = { key: string; cert: string }
export type TestCerts = {
  ca: string
  /** CN/SAN localhost, 127.0.0.1, ::1; signed by ca. */
  server: KeyPair
  /** Signed by ca, but expired. */
  expired: KeyPair
  /** Signed by ca, for wrong.example (no localhost, no 127.0.0.1). */
  wrongHost: KeyPair
  /** Self-signed for localhost, not trusted by ca. */
  selfSigned: KeyPair
  /** Client certificate signed by ca (for mTLS). */
  client: KeyPair
  /** `sha256/<base64>` pin of the SPKI of a PEM certificate. */
  pinOf(certPem: string): string
}

const NEW_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes']
const LOCAL_NAMES = 'DNS:localhost,IP:127.0.0.1,IP:::1'
const DAY = 86_400_000

let cached: TestCerts | undefined

/** Creates (once per process) the certificate set. Takes a second or so. */
export function makeCerts(): TestCerts {
  if (cached) return cached
  const dir = mkdtempSync(join(tmpdir(), 'wirekit-certs-'))
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' })
  const read = (name: string): KeyPair => ({
    key: readFileSync(join(dir, `${name}.key`), 'utf8'),
    cert: readFileSync(join(dir, `${name}.pem`), 'utf8'),
  })
  const selfSigned = (name: string, subject: string, ...extensions: string[]): KeyPair => {
    const addext = extensions.flatMap((e) => ['-addext', e])
    openssl(
      'req',
      '-x509',
      ...NEW_KEY,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.pem`,
      '-days',
      '2',
      '-subj',
      subject,
      ...addext,
    )
    return read(name)
  }
  const leaf = (name: string, subject: string, san: string, usage: string, expired = false): KeyPair => {
    openssl('req', ...NEW_KEY, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject)
    writeFileSync(
      join(dir, `${name}.ext`),
      `subjectAltName=${san}\nextendedKeyUsage=${usage}\nbasicConstraints=CA:FALSE\n`,
    )
    const sign = ['-in', `${name}.csr`, '-out', `${name}.pem`, '-extfile', `${name}.ext`]
    if (!expired) {
      openssl('x509', '-req', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', ...sign)
      return read(name)
    }
    // Valid from two days ago until yesterday: `openssl ca` is the one signer in OpenSSL 3.0 that takes dates.
    const date = (ms: number) => `${new Date(ms).toISOString().replace(/[-:T]/g, '').slice(0, 14)}Z`
    const config = [
      '[ca]',
      'default_ca=dflt',
      '[dflt]',
      'database=index.txt',
      'new_certs_dir=.',
      'serial=serial',
    ]
    config.push('default_md=sha256', 'policy=any', 'unique_subject=no', '[any]', 'commonName=supplied', '')
    writeFileSync(join(dir, 'ca.cnf'), config.join('\n'))
    writeFileSync(join(dir, 'index.txt'), '')
    writeFileSync(join(dir, 'serial'), '1000\n')
    const now = Date.now()
    const dates = ['-startdate', date(now - 2 * DAY), '-enddate', date(now - DAY)]
    openssl(
      'ca',
      '-batch',
      '-config',
      'ca.cnf',
      '-cert',
      'ca.pem',
      '-keyfile',
      'ca.key',
      '-notext',
      ...dates,
      ...sign,
    )
    return read(name)
  }
  try {
    const ca = selfSigned(
      'ca',
      '/CN=wirekit test CA',
      'basicConstraints=critical,CA:TRUE',
      'keyUsage=critical,keyCertSign,cRLSign',
    )
    cached = {
      ca: ca.cert,
      server: leaf('server', '/CN=localhost', LOCAL_NAMES, 'serverAuth'),
      expired: leaf('expired', '/CN=localhost', LOCAL_NAMES, 'serverAuth', true),
      wrongHost: leaf('wrong', '/CN=wrong.example', 'DNS:wrong.example', 'serverAuth'),
      client: leaf('client', '/CN=wirekit client', 'DNS:client.local', 'clientAuth'),
      selfSigned: selfSigned('self', '/CN=localhost', 'subjectAltName=DNS:localhost,IP:127.0.0.1'),
      pinOf(certPem: string): string {
        const spki = new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' })
        return `sha256/${createHash('sha256').update(spki).digest('base64')}`
      },
    }
    return cached
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
