<?php

declare(strict_types=1);

namespace MqttBroadcast\Tests;

use Mosquitto\Client;
use Mosquitto\Exception as MosquittoException;
use Mosquitto\Message;
use MqttBroadcast\Tests\Support\Broker;
use MqttBroadcast\Tests\Support\Certificates;
use MqttBroadcast\Tests\Support\MqttTestCase;
use MqttBroadcast\Tests\Support\PhpChild;
use MqttBroadcast\Tests\Support\PhpScript;
use MqttBroadcast\Tests\Support\SecureBroker;
use MqttBroadcast\Tests\Support\StreamPublisher;

/**
 * Mosquitto\Client, Mosquitto\Message and Mosquitto\Exception, the API of the
 * Mosquitto-PHP extension 0.4, against a real mosquitto: what its own phpt
 * suite checks (arguments, callbacks and their arguments, loop behaviour, TLS,
 * the will), and what the original gets wrong: a publish right before the end
 * of the script, a broker restart under loopForever(), QoS 2 both ways, and
 * 100,000 messages through onMessage without memory growth.
 */
final class MosquittoCompatTest extends MqttTestCase
{
    private const WAIT = 10.0;

    public function testConstructionAndTheMessageHelpers(): void
    {
        $this->assertInstanceOf(Client::class, new Client());
        $this->assertInstanceOf(Client::class, new Client('an-id'));
        $this->assertInstanceOf(Client::class, new Client('an-id', false));
        $this->assertInstanceOf(Client::class, new Client(null, true));
        $this->assertThrowsMosquitto('must use a clean session', fn () => new Client(null, false));
        $this->assertThrowsMosquitto('client_id', fn () => new Client(' leading space'));
        $this->assertInstanceOf(\Exception::class, new MosquittoException('x'));

        $this->assertTrue(Message::topicMatchesSub('foo/bar', '#'));
        $this->assertTrue(Message::topicMatchesSub('foo/bar', 'foo/+'));
        $this->assertFalse(Message::topicMatchesSub('foo/bar/baz', 'foo/+'));
        $this->assertFalse(Message::topicMatchesSub(null, null));
        $this->assertFalse(Message::topicMatchesSub('', 'foo'));
        $this->assertFalse(Message::topicMatchesSub('', '#'));
        $this->assertFalse(Message::topicMatchesSub('foo', ''));
        $this->assertFalse(Message::topicMatchesSub('foo/#', '#'), 'a topic has no wildcards');
        $this->assertSame(['foo', 'bar'], Message::tokeniseTopic('foo/bar'));
        $this->assertSame([null, 'foo', 'bar'], Message::tokeniseTopic('/foo/bar'));
        $this->assertSame(['#'], Message::tokeniseTopic('#'));
        $this->assertSame(['foo', '+', 'bar'], Message::tokeniseTopic('foo/+/bar'));
        $this->assertSame([null], Message::tokeniseTopic(null));

        $message = new Message();
        $this->assertSame([0, null, '', 0, false], [$message->mid, $message->topic, $message->payload, $message->qos, $message->retain]);
        $message->topic = 'Hello';
        $message->payload = "bin\0ary";
        $this->assertSame(['Hello', "bin\0ary"], [$message->topic, $message->payload]);
    }

    public function testNothingWorksBeforeConnectAndWhatCannotBeReachedThrows(): void
    {
        $client = new Client();
        foreach ([
            fn () => $client->loop(),
            fn () => $client->loopForever(),
            fn () => $client->publish('t', 'p'),
            fn () => $client->subscribe('t', 0),
            fn () => $client->unsubscribe('t'),
            fn () => $client->disconnect(),
        ] as $call) {
            $this->assertThrowsMosquitto('The client is not currently connected.', $call);
        }
        $this->assertSame(-1, $client->getSocket());

        // Refused at once: a connect() that waited out its timeout would say "timed out".
        $this->assertThrowsMosquitto('Connection refused', fn () => $client->connect('127.0.0.1', Broker::freePort()));
        $this->assertThrowsMosquitto('lookup', fn () => $client->connect('no-such-host.invalid'));
        $this->assertThrowsMosquitto('$port must be between 1 and 65535, got 0', fn () => $client->connect('127.0.0.1', 0));
        $this->assertThrowsMosquitto('$keepalive must be between 0 and 65535', fn () => $client->connect('127.0.0.1', 1883, -1));
        $this->assertThrowsMosquitto('binding to a local interface ($interface) is not supported', fn () => $client->connect('127.0.0.1', 1883, 60, '127.0.0.1'));
        $this->assertThrowsMosquitto('The client is not currently connected.', fn () => $client->loop(0), 'a failed connect() leaves it unconnected');

        foreach ([
            fn () => $client->setMaxInFlightMessages(-1),
            fn () => $client->setMaxInFlightMessages(65536),
            fn () => $client->setMessageRetry(-1),
            fn () => $client->setReconnectDelay(-1),
            fn () => $client->setWill('#', 'x'),
            fn () => $client->setWill('t', 'x', 3),
            fn () => $client->setCredentials("nul\0name", 'p'),
        ] as $i => $call) {
            try {
                $call();
                $this->fail("bad setting #$i accepted");
            } catch (MosquittoException $e) {
                $this->assertNotSame('', $e->getMessage());
            }
        }
        $client->setMaxInFlightMessages(0);
        $client->setMessageRetry(20);
        $client->setReconnectDelay(1, 10, true);
        $client->setWill('t', 'x', 1, true);
        $client->clearWill();
    }

    public function testCallbacksRunInsideLoopInTheOrderThingsHappened(): void
    {
        $topic = $this->topic('compat');
        $client = new Client('compat-' . $this->uniq());
        $seen = [];
        $ids = ['publish' => [], 'subscribe' => null, 'unsubscribe' => null];
        $messages = [];
        $levels = [];
        $client->onLog(function (int $level, string $line) use (&$levels): void {
            $levels[$level] = true;
        });
        $client->onConnect(function (int $rc, string $message) use (&$seen, &$ids, $client, $topic): void {
            $seen[] = "connect $rc $message";
            $ids['subscribe'] = $client->subscribe("$topic/#", 2);
        });
        $client->onSubscribe(function (int $mid, int $count) use (&$seen, &$ids, $client, $topic): void {
            $seen[] = "subscribe $mid $count";
            foreach ([0, 1, 2] as $qos) {
                $ids['publish'][] = $client->publish("$topic/q$qos", "payload $qos", $qos);
            }
        });
        $client->onPublish(function (int $mid) use (&$seen): void {
            $seen[] = "publish $mid";
        });
        $client->onMessage(function (Message $message) use (&$seen, &$messages, &$ids, $client, $topic): void {
            $seen[] = 'message';
            $messages[] = [$message->topic, $message->payload, $message->qos, $message->retain, $message->mid];
            if (count($messages) === 3) {
                $ids['unsubscribe'] = $client->unsubscribe("$topic/#");
            }
        });
        $client->onUnsubscribe(function (int $mid) use (&$seen, $client, $topic): void {
            $seen[] = "unsubscribe $mid";
            $client->publish("$topic/after", 'not for us', 1);
        });
        $client->onDisconnect(function (int $rc) use (&$seen): void {
            $seen[] = "disconnect $rc";
        });

        $client->connect(static::broker()->host(), static::broker()->port(), 30);
        $this->assertGreaterThan(0, $client->getSocket());
        $deadline = microtime(true) + self::WAIT;
        while (!in_array("publish 6", $seen, true) && microtime(true) < $deadline) {
            $client->loop(100);
        }
        $client->loop(300);
        $client->disconnect();

        $this->assertSame('connect 0 Connection Accepted.', $seen[0]);
        $this->assertSame("subscribe {$ids['subscribe']} 1", $seen[1]);
        $this->assertSame(1, $ids['subscribe']);
        $this->assertSame([2, 3, 4], $ids['publish']);
        $this->assertSame(5, $ids['unsubscribe']);
        foreach ([2, 3, 4, 6] as $mid) {
            $this->assertSame(1, count(array_keys($seen, "publish $mid", true)), "onPublish($mid) once: " . json_encode($seen));
        }
        $this->assertContains('unsubscribe 5', $seen);
        $this->assertSame('disconnect 0', end($seen));
        usort($messages, fn ($a, $b) => strcmp($a[0], $b[0]));
        $this->assertSame(["$topic/q0", 'payload 0', 0, false, 0], $messages[0]);
        $this->assertSame(["$topic/q1", 'payload 1', 1, false], array_slice($messages[1], 0, 4));
        $this->assertSame(["$topic/q2", 'payload 2', 2, false], array_slice($messages[2], 0, 4));
        $this->assertGreaterThan(0, $messages[1][4], 'a QoS 1 message has its packet id');
        $this->assertCount(3, $messages, 'nothing after the unsubscribe');
        $this->assertArrayHasKey(Client::LOG_DEBUG, $levels);
        $this->assertThrowsMosquitto('The client is not currently connected.', fn () => $client->loop(0));
    }

    public function testQos2BothWaysWithIndependentClients(): void
    {
        $topic = $this->topic('qos2');
        $listener = $this->listen("$topic/out", null, 2);
        $client = new Client();
        $received = [];
        $client->onMessage(function (Message $m) use (&$received): void {
            $received[] = [$m->payload, $m->qos, $m->mid > 0];
        });
        $client->connect(static::broker()->host(), static::broker()->port());
        $client->subscribe("$topic/in", 2);
        $client->loop(500);
        $acknowledged = [];
        $client->onPublish(function (int $mid) use (&$acknowledged): void {
            $acknowledged[] = $mid;
        });
        $mids = [];
        for ($i = 0; $i < 20; $i++) {
            $mids[] = $client->publish("$topic/out", "out-$i", 2);
        }
        static::broker()->mosquittoPub("$topic/in", 'in-1', 2);
        $deadline = microtime(true) + self::WAIT;
        while ((count($acknowledged) < 20 || $received === []) && microtime(true) < $deadline) {
            $client->loop(100);
        }
        $this->assertSame($mids, $acknowledged, 'onPublish for every QoS 2 message, after PUBCOMP, in order');
        $this->assertSame([['in-1', 2, true]], $received);
        $listener->waitFor(20);
        $this->assertSame(array_map(fn ($i) => "out-$i", range(0, 19)), $listener->payloads());
        $client->disconnect();
    }

    public function testAPublishRightBeforeTheScriptEndsIsDelivered(): void
    {
        $topic = $this->topic('exit');
        $listener = $this->listen($topic);
        $result = PhpScript::run(sprintf(<<<'PHP'
            $client = new Mosquitto\Client();
            $client->connect(%s, %d);
            for ($i = 0; $i < 2000; $i++) {
                $client->publish(%s, "m$i", $i %% 3);
            }
            echo "published\n";
            PHP, var_export(static::broker()->host(), true), static::broker()->port(), var_export($topic, true)));
        $this->assertSame(0, $result->exitCode, $result->describe());
        $this->assertSame("published\n", $result->stdout);
        $listener->waitFor(2000);
        $this->assertSameMultiset(array_map(fn ($i) => "m$i", range(0, 1999)), $listener->payloads());
    }

    public function testLoopForeverSurvivesABrokerRestart(): void
    {
        $topic = $this->topic('forever');
        $child = PhpChild::start(sprintf(<<<'PHP'
            $client = new Mosquitto\Client('forever-%s', false);
            $client->onConnect(function ($rc) use ($client) {
                echo "connect $rc\n";
                $client->subscribe(%s, 1);
            });
            $client->onDisconnect(function ($rc) { echo "disconnect " . ($rc === 0 ? 0 : 'lost') . "\n"; });
            $client->onSubscribe(function () { echo "subscribed\n"; });
            $client->onMessage(function ($m) use ($client) {
                echo "message {$m->payload}\n";
                if ($m->payload === 'stop') {
                    $client->exitLoop();
                }
            });
            $client->setReconnectDelay(1);
            $client->connect(%s, %d, 5);
            $client->loopForever(200);
            echo "returned\n";
            PHP, $this->uniq(), var_export($topic, true), var_export(static::broker()->host(), true), static::broker()->port()));
        $child->waitForLine('subscribed');
        static::broker()->mosquittoPub($topic, 'before');
        $child->waitForLine('message before');

        static::broker()->restart();
        $child->waitUntil(fn () => substr_count($child->stdout(), "subscribed\n") >= 2, 30.0, 'subscribed again after the restart');
        static::broker()->mosquittoPub($topic, 'after');
        $child->waitForLine('message after');
        static::broker()->mosquittoPub($topic, 'stop');
        $child->waitForLine('returned');

        $lines = $child->lines();
        $this->assertSame(['connect 0', 'subscribed', 'message before', 'disconnect lost', 'connect 0', 'subscribed', 'message after', 'message stop', 'returned'], $lines);
    }

    public function testAWillOnAKilledProcessAndNoneAfterClearWill(): void
    {
        $prefix = 'test/' . $this->uniq();
        $listener = $this->listen("$prefix/#");
        $holder = function (bool $clear) use ($prefix): PhpChild {
            $child = PhpChild::start(sprintf(<<<'PHP'
                $client = new Mosquitto\Client();
                $client->setWill(%s, 'gone', 1, false);
                if (%s) {
                    $client->clearWill();
                }
                $client->onConnect(function () { echo "connected\n"; });
                $client->connect(%s, %d, 5);
                $client->loopForever();
                PHP, var_export($prefix . ($clear ? '/cleared' : '/will'), true), $clear ? 'true' : 'false', var_export(static::broker()->host(), true), static::broker()->port()));
            $child->waitForLine('connected');
            return $child;
        };
        $cleared = $holder(true);
        $willing = $holder(false);
        $cleared->kill();
        $willing->kill();

        $this->assertSame([["$prefix/will", 'gone']], $listener->waitFor(1));
        usleep(500_000);
        $listener->sync();
        $this->assertCount(1, $listener->messages(), 'no will after clearWill()');
    }

    public function testCredentialsAndTheBrokersRefusalGoToOnConnect(): void
    {
        $secure = SecureBroker::withPasswords(['app' => 'right']);
        $broker = $secure->broker();
        $codes = [];
        foreach (['wrong', 'right'] as $password) {
            $client = new Client();
            $client->setCredentials('app', $password);
            $client->onConnect(function (int $rc, string $message) use (&$codes): void {
                $codes[] = [$rc, $message];
            });
            $client->connect($broker->host(), $broker->port());
            $deadline = microtime(true) + self::WAIT;
            while (count($codes) < ($password === 'wrong' ? 1 : 2) && microtime(true) < $deadline) {
                $client->loop(100);
            }
            $client->disconnect();
        }
        $this->assertSame([5, 'Connection Refused: not authorised.'], $codes[0], 'refused: the code of the CONNACK');
        $this->assertSame([0, 'Connection Accepted.'], $codes[1]);
    }

    public function testTlsCertificatesInsecureOptionsAndPsk(): void
    {
        $certs = Certificates::shared();
        $secure = SecureBroker::tls($certs->server(), $certs->ca());
        $otherName = SecureBroker::tls($certs->otherNameServer(), $certs->ca());
        $mutual = SecureBroker::tls($certs->server(), $certs->ca(), true);
        $caDir = $this->tempDir();
        copy($certs->ca(), "$caDir/ca.crt");
        file_put_contents("$caDir/README", 'not a certificate');

        $connects = function (Client $client, SecureBroker $to): void {
            $connected = false;
            $client->onConnect(function (int $rc) use (&$connected): void {
                $connected = $rc === 0;
            });
            $client->connect($to->broker()->host(), $to->tlsPort());
            $deadline = microtime(true) + self::WAIT;
            while (!$connected && microtime(true) < $deadline) {
                $client->loop(100);
            }
            $this->assertTrue($connected);
            $client->disconnect();
        };
        foreach ([$certs->ca(), $caDir] as $ca) {
            $client = new Client();
            $client->setTlsCertificates($ca);
            $connects($client, $secure);
        }

        $client = new Client();
        $client->setTlsCertificates($certs->ca());
        $this->assertThrowsMosquitto('hostname mismatch', fn () => $client->connect($otherName->broker()->host(), $otherName->tlsPort()));
        $client->setTlsInsecure(true);
        $connects($client, $otherName);

        $client = new Client();
        $client->setTlsCertificates($certs->otherCa());
        $this->assertThrowsMosquitto('unknown CA', fn () => $client->connect($secure->broker()->host(), $secure->tlsPort()));
        $client->setTlsOptions(Client::SSL_VERIFY_NONE);
        $connects($client, $secure);

        $client = new Client();
        $client->setTlsCertificates($certs->ca());
        $this->assertThrowsMosquitto('TLS', fn () => $client->connect($mutual->broker()->host(), $mutual->tlsPort()));
        $client->setTlsCertificates($certs->ca(), $certs->client()['cert'], $certs->client()['key']);
        $connects($client, $mutual);

        $this->assertThrowsMosquitto('TLS-PSK is not supported', fn () => $client->setTlsPSK('deadbeef', 'id'));
        $this->assertThrowsMosquitto('"tlsv1.1" is not supported', fn () => $client->setTlsOptions(Client::SSL_VERIFY_PEER, 'tlsv1.1'));
        $this->assertThrowsMosquitto('$ciphers is not supported', fn () => $client->setTlsOptions(Client::SSL_VERIFY_PEER, null, 'HIGH'));
        $this->assertThrowsMosquitto('$certReqs must be', fn () => $client->setTlsOptions(7));
        $this->assertThrowsMosquitto('encrypted private keys are not supported', fn () => $client->setTlsCertificates($certs->ca(), $certs->client()['cert'], $certs->client()['key'], 'secret'));
        $this->assertThrowsMosquitto('$certFile and $keyFile go together', fn () => $client->setTlsCertificates($certs->ca(), $certs->client()['cert']));
        $this->assertThrowsMosquitto('tls.ca_file', fn () => $client->setTlsCertificates('/no/such/ca.pem'));
        $client->setTlsOptions(Client::SSL_VERIFY_PEER, 'tlsv1.2');
    }

    public function testAHundredThousandMessagesThroughOnMessageWithoutMemoryGrowth(): void
    {
        $topic = $this->topic('flood');
        $child = PhpChild::start(sprintf(<<<'PHP'
            $client = new Mosquitto\Client();
            $count = 0;
            $client->onMessage(function (Mosquitto\Message $m) use (&$count, $client) {
                $count++;
                if ($count === 10000 || $count === 100000) {
                    gc_collect_cycles();
                    preg_match('/^VmRSS:\s+(\d+) kB/m', (string) file_get_contents('/proc/self/status'), $rss);
                    echo "memory at $count: ", memory_get_usage(), " rss ", $rss[1] * 1024, "\n";
                }
                if ($count === 100000) {
                    $client->exitLoop();
                }
            });
            $client->onSubscribe(function () { echo "subscribed\n"; });
            $client->connect(%s, %d);
            $client->subscribe(%s, 1);
            $client->loopForever(100);
            echo "count $count\n";
            PHP, var_export(static::broker()->host(), true), static::broker()->port(), var_export($topic, true)));
        $child->waitForLine('subscribed');
        $publisher = StreamPublisher::start(static::broker(), $topic, array_map(fn ($i) => "message $i", range(1, 100_000)));
        $publisher->wait(120.0);
        $child->waitForLine('count 100000', 120.0);

        preg_match('/memory at 10000: (\d+) rss (\d+)/', $child->stdout(), $early);
        preg_match('/memory at 100000: (\d+) rss (\d+)/', $child->stdout(), $late);
        $this->assertNotEmpty($early, $child->describe());
        $this->assertLessThan(64 * 1024, (int) $late[1] - (int) $early[1], 'PHP memory after 90,000 more messages: ' . $child->stdout());
        // The process's, the connection's own included: 100 bytes kept per message would be 9 MB.
        $this->assertLessThan(4 * 1024 * 1024, (int) $late[2] - (int) $early[2], 'resident memory after 90,000 more messages: ' . $child->stdout());
    }

    public function testSubclassesAndTheIniSwitch(): void
    {
        $result = PhpScript::run(<<<'PHP'
            class Worker extends Mosquitto\Client
            {
                public array $seen = [];

                public function __construct(string $id)
                {
                    parent::__construct($id);
                    $this->onConnect([$this, 'connected']);
                }

                public function connected(int $rc): void
                {
                    $this->seen[] = "connected $rc";
                }
            }
            $worker = new Worker('subclass');
            $worker->connect($argv[1] ?? getenv('BROKER_HOST'), (int) getenv('BROKER_PORT'));
            $worker->loop(2000);
            echo implode(',', $worker->seen), "\n";
            PHP, ['BROKER_HOST' => static::broker()->host(), 'BROKER_PORT' => (string) static::broker()->port()]);
        $this->assertSame("connected 0\n", $result->stdout, $result->describe());

        $off = PhpScript::run(
            'var_dump(class_exists("Mosquitto\\\\Client"), class_exists("Mosquitto\\\\Message"), class_exists("Mosquitto\\\\Exception"), class_exists("Mqtt\\\\Client"));',
            ['PHP_INI_SCAN_DIR' => $this->iniDir('mqtt_broadcast.mosquitto_compat=0')]
        );
        $this->assertSame("bool(false)\nbool(false)\nbool(false)\nbool(true)\n", $off->stdout, $off->describe());
    }

    private function assertThrowsMosquitto(string $expected, callable $call, string $why = ''): void
    {
        try {
            $call();
        } catch (MosquittoException $e) {
            $this->assertStringContainsString($expected, $e->getMessage(), $why);
            return;
        }
        $this->fail("no Mosquitto\\Exception ($expected) $why");
    }

    private function tempDir(): string
    {
        $dir = sys_get_temp_dir() . '/mqtt-broadcast-compat-' . bin2hex(random_bytes(5));
        mkdir($dir);
        register_shutdown_function(static function () use ($dir): void {
            array_map('unlink', glob("$dir/*") ?: []);
            @rmdir($dir);
        });
        return $dir;
    }

    /** A directory with one ini file of $lines, for PHP_INI_SCAN_DIR. */
    private function iniDir(string ...$lines): string
    {
        $dir = $this->tempDir();
        file_put_contents("$dir/compat.ini", implode("\n", $lines) . "\n");
        return $dir;
    }
}
