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

let cached: TestCerts | undefined

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' })
}

/** Creates (once per process) the certificate set. Takes a second or so. */
export function makeCerts(): TestCerts {
  if (cached) return cached
  const dir = mkdtempSync(join(tmpdir(), 'wirekit-certs-'))
  try {
    openssl(dir, [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      'ca.key',
      '-out',
      'ca.pem',
      '-days',
      '2',
      '-subj',
      '/CN=wirekit test CA',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ])
    const leaf = (name: string, subject: string, san: string, days: string, extUsage: string): KeyPair => {
      openssl(dir, [
        'req',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        `${name}.key`,
        '-out',
        `${name}.csr`,
        '-subj',
        subject,
      ])
      writeFileSync(
        join(dir, `${name}.ext`),
        `subjectAltName=${san}\nextendedKeyUsage=${extUsage}\nbasicConstraints=CA:FALSE\n`,
      )
      if (days.startsWith('-')) {
        // An expired certificate: `openssl ca` is the one signer in OpenSSL 3.0 that takes explicit dates.
        const fmt = (d: Date) => `${d.toISOString().replace(/[-:T]/g, '').slice(0, 14)}Z`
        const now = Date.now()
        writeFileSync(join(dir, 'index.txt'), '')
        writeFileSync(
          join(dir, 'ca.cnf'),
          [
            '[ca]',
            'default_ca=dflt',
            '[dflt]',
            'database=index.txt',
            'new_certs_dir=.',
            'serial=serial',
            'default_md=sha256',
            'policy=any',
            'unique_subject=no',
            '[any]',
            'commonName=supplied',
            '',
          ].join('\n'),
        )
        writeFileSync(join(dir, 'serial'), '1000\n')
        openssl(dir, [
          'ca',
          '-batch',
          '-config',
          'ca.cnf',
          '-cert',
          'ca.pem',
          '-keyfile',
          'ca.key',
          '-in',
          `${name}.csr`,
          '-out',
          `${name}.pem`,
          '-extfile',
          `${name}.ext`,
          '-notext',
          '-startdate',
          fmt(new Date(now - 2 * 86_400_000)),
          '-enddate',
          fmt(new Date(now - 86_400_000)),
        ])
      } else {
        openssl(dir, [
          'x509',
          '-req',
          '-in',
          `${name}.csr`,
          '-CA',
          'ca.pem',
          '-CAkey',
          'ca.key',
          '-CAcreateserial',
          '-out',
          `${name}.pem`,
          '-extfile',
          `${name}.ext`,
          '-days',
          days,
        ])
      }
      return {
        key: readFileSync(join(dir, `${name}.key`), 'utf8'),
        cert: readFileSync(join(dir, `${name}.pem`), 'utf8'),
      }
    }
    const server = leaf('server', '/CN=localhost', 'DNS:localhost,IP:127.0.0.1,IP:::1', '2', 'serverAuth')
    const expired = leaf('expired', '/CN=localhost', 'DNS:localhost,IP:127.0.0.1,IP:::1', '-1', 'serverAuth')
    const wrongHost = leaf('wrong', '/CN=wrong.example', 'DNS:wrong.example', '2', 'serverAuth')
    const client = leaf('client', '/CN=wirekit client', 'DNS:client.local', '2', 'clientAuth')
    openssl(dir, [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      'self.key',
      '-out',
      'self.pem',
      '-days',
      '2',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
    ])
    const selfSigned = {
      key: readFileSync(join(dir, 'self.key'), 'utf8'),
      cert: readFileSync(join(dir, 'self.pem'), 'utf8'),
    }
    cached = {
      ca: readFileSync(join(dir, 'ca.pem'), 'utf8'),
      server,
      expired,
      wrongHost,
      selfSigned,
      client,
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
