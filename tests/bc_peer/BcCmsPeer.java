// A Bouncy Castle (bcprov/bcpkix 1.72, Debian's libbcprov-java/libbcpkix-java) peer for M2Sec's
// tests of X25519/X448 recipients in CMS (RFC 8418, ANSI X9.63 KDF):
//
//   java -cp bcprov.jar:bcpkix.jar:bcutil.jar BcCmsPeer.java encrypt CERT.pem IN OUT.der CIPHER [UKM_HEX]
//   java -cp ... BcCmsPeer.java decrypt CERT.pem KEY.pem IN.der OUT
//
// CIPHER: aes128cbc, aes256cbc (EnvelopedData), aes128gcm, aes256gcm (AuthEnvelopedData).
// The key agreement, KDF, key wrap and ASN.1 are Bouncy Castle's own.  One thing is routed:
// BC 1.72's CMS asks its provider for the KeyAgreement named by the scheme OID
// (dhSinglePass-stdDH-sha256kdf-scheme, 1.3.132.1.11.1, ...), which the provider maps to its
// EC implementation only, and that refuses X25519/X448 keys; the provider below maps those two
// OIDs to BC's own X25519withSHA256KDF and X448withSHA512KDF agreements (the X9.63 KDF over
// RFC 5753's ECC-CMS-SharedInfo, which BC's CMS passes to them as user keying material).
// BC 1.72 has no HKDF schemes (1.2.840.113549.1.9.16.3.19-21).

import java.io.*;
import java.nio.file.*;
import java.security.*;
import java.security.cert.*;
import java.util.*;
import org.bouncycastle.asn1.ASN1ObjectIdentifier;
import org.bouncycastle.asn1.ASN1OctetString;
import org.bouncycastle.asn1.cms.ContentInfo;
import org.bouncycastle.asn1.cms.CMSObjectIdentifiers;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.cms.*;
import org.bouncycastle.cms.jcajce.*;
import org.bouncycastle.jce.provider.BouncyCastleProvider;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.operator.OutputAEADEncryptor;
import org.bouncycastle.util.encoders.Hex;

public class BcCmsPeer {
    static final String XDH = "org.bouncycastle.jcajce.provider.asymmetric.edec.KeyAgreementSpi$";

    static Provider provider() {
        Provider p = new BouncyCastleProvider();
        p.put("KeyAgreement.1.3.132.1.11.1", XDH + "X25519withSHA256KDF");
        p.put("KeyAgreement.1.3.132.1.11.3", XDH + "X448withSHA512KDF");
        return p;
    }

    static X509Certificate cert(String path) throws Exception {
        try (InputStream in = new FileInputStream(path)) {
            return (X509Certificate) CertificateFactory.getInstance("X.509", "BC").generateCertificate(in);
        }
    }

    static ASN1ObjectIdentifier cipher(String name) {
        switch (name) {
            case "aes128cbc": return CMSAlgorithm.AES128_CBC;
            case "aes256cbc": return CMSAlgorithm.AES256_CBC;
            case "aes128gcm": return CMSAlgorithm.AES128_GCM;
            case "aes256gcm": return CMSAlgorithm.AES256_GCM;
            default: throw new IllegalArgumentException("unknown cipher " + name);
        }
    }

    public static void main(String[] a) throws Exception {
        Security.addProvider(new BouncyCastleProvider());
        Provider px = provider();
        if (a[0].equals("encrypt")) {
            X509Certificate c = cert(a[1]);
            String alg = c.getPublicKey().getAlgorithm();  // X25519 or X448
            boolean x448 = alg.equals("X448");
            ASN1ObjectIdentifier scheme = x448 ? CMSAlgorithm.ECDH_SHA512KDF : CMSAlgorithm.ECDH_SHA256KDF;
            boolean big = a[4].startsWith("aes256");
            KeyPair eph = KeyPairGenerator.getInstance(x448 ? "X448" : "X25519", "BC").generateKeyPair();
            JceKeyAgreeRecipientInfoGenerator rig = new JceKeyAgreeRecipientInfoGenerator(scheme, eph.getPrivate(),
                eph.getPublic(), big ? CMSAlgorithm.AES256_WRAP : CMSAlgorithm.AES128_WRAP);
            if (a.length > 5) rig.setUserKeyingMaterial(Hex.decode(a[5]));
            rig.addRecipient(c).setProvider(px);
            CMSTypedData data = new CMSProcessableByteArray(Files.readAllBytes(Paths.get(a[2])));
            byte[] out;
            if (a[4].endsWith("gcm")) {
                CMSAuthEnvelopedDataGenerator g = new CMSAuthEnvelopedDataGenerator();
                g.addRecipientInfoGenerator(rig);
                OutputAEADEncryptor enc = (OutputAEADEncryptor) new JceCMSContentEncryptorBuilder(cipher(a[4])).setProvider("BC").build();
                out = g.generate(data, enc).getEncoded();
            } else {
                CMSEnvelopedDataGenerator g = new CMSEnvelopedDataGenerator();
                g.addRecipientInfoGenerator(rig);
                out = g.generate(data, new JceCMSContentEncryptorBuilder(cipher(a[4])).setProvider("BC").build()).getEncoded();
            }
            Files.write(Paths.get(a[3]), out);
        } else if (a[0].equals("decrypt")) {
            X509Certificate c = cert(a[1]);
            PrivateKey key;
            try (PEMParser p = new PEMParser(new FileReader(a[2]))) {
                key = new JcaPEMKeyConverter().setProvider("BC").getPrivateKey((PrivateKeyInfo) p.readObject());
            }
            byte[] in = Files.readAllBytes(Paths.get(a[3]));
            ContentInfo ci = ContentInfo.getInstance(in);
            RecipientInformationStore ris = ci.getContentType().equals(CMSObjectIdentifiers.authEnvelopedData)
                ? new CMSAuthEnvelopedData(in).getRecipientInfos() : new CMSEnvelopedData(in).getRecipientInfos();
            RecipientInformation ri = ris.get(new JceKeyAgreeRecipientId(c));  // issuerAndSerialNumber
            byte[] ski = c.getExtensionValue("2.5.29.14");
            if (ri == null && ski != null)  // rKeyId: the subjectKeyIdentifier
                ri = ris.get(new KeyAgreeRecipientId(ASN1OctetString.getInstance(ASN1OctetString.getInstance(ski).getOctets()).getOctets()));
            if (ri == null) throw new CMSException("no recipient for " + c.getSubjectX500Principal());
            Files.write(Paths.get(a[4]), ri.getContent(new JceKeyAgreeEnvelopedRecipient(key).setProvider(px)));
        } else {
            throw new IllegalArgumentException("encrypt or decrypt");
        }
    }
}
