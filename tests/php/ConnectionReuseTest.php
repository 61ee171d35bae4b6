<?php

declare(strict_types=1);

namespace MqttBroadcast\Tests;

use Mqtt\Client;
use Mqtt\MqttException;
use MqttBroadcast\Tests\Support\Certificates;
use MqttBroadcast\Tests\Support\MqttTestCase;

/**
 * A named connection lives on in the process: same name and options reuse it, new options replace it.
 *
 * @group protocol
 */
final class ConnectionReuseTest extends MqttTestCase
{
    public function testSameNameAndOptionsShareOneConnection(): void
    {
        $topic = $this->topic('shared');
        $listener = $this->listen($topic);
        $options = $this->options();
        $name = 'shared-' . $this->uniq();

        $first = $this->client($options, $name);
        $first->publishSync($topic, 'first', 1);
        $second = $this->client($options, $name);
        $second->publishSync($topic, 'second', 1);
        $second->publish($topic, 'third', 1);
        $this->assertTrue($second->flush(10));

        $this->assertSame(3, $second->status()['published'], 'counters continue on the second handle');
        $this->assertSame(3, $first->status()['published'], 'both handles see one connection');
        $this->assertSame(['first', 'second', 'third'], array_column($listener->waitFor(3), 1));
        $this->assertSame(
            1,
            $this->broker()->connectionCount($options['client_id']),
            "the broker saw exactly one connection for {$options['client_id']}:\n" . $this->broker()->log()
        );

        $connections = Client::connections();
        $this->assertArrayHasKey($name, $connections);
        $this->assertSame($name, $connections[$name]['name']);
        $this->assertSame($options['client_id'], $connections[$name]['client_id']);
        $this->assertSame('connected', $connections[$name]['state']);
        $this->assertSame(3, $connections[$name]['published']);
    }

    public function testConnectionsListsEveryLiveConnectionByName(): void
    {
        $a = $this->client($this->options(), 'list-a-' . $this->uniq());
        $b = $this->client($this->options(), 'list-b-' . $this->uniq());
        $a->publishSync($this->topic('a'), 'a', 1);
        $b->publishSync($this->topic('b'), 'b', 1);

        $connections = Client::connections();
        $this->assertSame($a->status()['client_id'], $connections['list-a-' . $this->uniq()]['client_id'] ?? null);
        $this->assertSame($b->status()['client_id'], $connections['list-b-' . $this->uniq()]['client_id'] ?? null);
        $this->assertNotSame($a->status()['client_id'], $b->status()['client_id']);
    }

    public function testDifferentOptionsForTheSameNameReplaceTheConnection(): void
    {
        $topic = $this->topic('replaced');
        $listener = $this->listen($topic);
        $name = 'replaced-' . $this->uniq();
        $oldOptions = $this->options();
        $newOptions = $this->options();

        $old = $this->client($oldOptions, $name);
        $old->publishSync($topic, 'via old', 1);
        // Still queued when the connection is replaced: it must be flushed, not dropped.
        for ($i = 0; $i < 50; $i++) {
            $old->publish($topic, "old-async-$i", 1);
        }
        $new = $this->client($newOptions, $name);
        $new->publishSync($topic, 'via new', 1);

        $status = $new->status();
        $this->assertSame($newOptions['client_id'], $status['client_id']);
        $this->assertSame('connected', $status['state']);
        $this->assertSame(1, $status['published'], 'a new connection starts its own counters');
        $this->assertSame($newOptions['client_id'], Client::connections()[$name]['client_id'] ?? null);

        $expected = array_merge(['via old'], array_map(fn ($i) => "old-async-$i", range(0, 49)), ['via new']);
        $listener->waitFor(count($expected));
        $listener->sync();
        $this->assertSameMultiset($expected, $listener->payloads());
        $log = $this->broker()->log();
        $this->assertSame(1, $this->broker()->connectionCount($oldOptions['client_id']), $log);
        $this->assertSame(1, $this->broker()->connectionCount($newOptions['client_id']), $log);
        $this->assertNotEmpty(
            $this->broker()->connectionEnds($oldOptions['client_id']),
            "the replaced connection was closed:\n$log"
        );
    }

    /** A handle made again with the options of the last one finds its connection without reading them; any change is seen. */
    public function testTheSameOptionsInAnotherOrderFindTheConnectionAndAnyChangedValueReplacesIt(): void
    {
        $name = 'again-' . $this->uniq();
        $options = $this->options();
        $first = $this->client($options, $name);
        $first->publishSync($this->topic('again'), 'first', 1);

        $again = $this->client($options, $name);
        $this->assertSame(1, $again->status()['published'], 'the same options: the same connection');
        $reordered = $this->client(array_reverse($options, true), $name);
        $this->assertSame(1, $reordered->status()['published'], 'the same options in another order: the same connection');

        $nested = $options;
        $nested['reconnect']['max_retries'] = 1;
        $changed = $this->client($nested, $name);
        $this->assertSame(0, $changed->status()['published'], 'a nested value changed: a new connection');
        $back = $this->client($options, $name);
        $this->assertSame(0, $back->status()['published'], 'the first options again: a new connection, not the replaced one');
    }

    public function testAHandleMadeAgainReadsItsCertificateFilesAgain(): void
    {
        $caFile = sys_get_temp_dir() . '/mqtt-reuse-ca-' . $this->uniq() . '.pem';
        copy(Certificates::shared()->ca(), $caFile);
        $name = 'tls-again-' . $this->uniq();
        $options = $this->options(['tls' => ['ca_file' => $caFile]]);
        $this->client($options, $name);
        unlink($caFile);

        try {
            $this->client($options, $name);
            $this->fail('a handle made with a CA file that is gone');
        } catch (MqttException $e) {
            $this->assertStringContainsString('tls.ca_file', $e->getMessage());
        }
    }
}
