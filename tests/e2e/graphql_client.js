// graphql_client.js URL TASK_ID: a real GraphQL client (graphql-js 16) against dtf's /graphql,
// run by test_graphql_client.sh. It fetches the schema with the full introspection query
// (deprecated arguments and input fields, specifiedByURL, isRepeatable, the schema's description),
// builds a client schema from the answer (which checks it thoroughly), validates the seed's
// documents against it with zero errors, executes them over HTTP and checks the answers, and
// checks that documents the schema does not allow are refused by the client and the server alike.
'use strict';

const assert = require('assert');
const {
	getIntrospectionQuery,
	buildClientSchema,
	validate,
	parse,
	printSchema,
	assertValidSchema,
	introspectionFromSchema,
} = require('graphql');

const url = process.argv[2] + '/graphql';
const taskId = process.argv[3];

async function post(query, variables) {
	const res = await fetch(url, {
		method: 'POST',
		headers: {'Content-Type': 'application/json', 'Accept': 'application/json'},
		body: JSON.stringify({query, variables}),
	});
	assert.strictEqual(res.status, 200, `HTTP ${res.status} for ${query}`);
	return res.json();
}

const seedTasks = `query {
  tasks(status: "running") {
    id, type, status, priority, created_at, updated_at, worker {
      id, status, available_hardware
    }, result {
      status, start_time, end_time, metrics
    }
  }
}`;
const seedTask = `query($id: ID!) {
      task(id: $id) {
        id, status, result {
          status, metrics
        }
      }
    }`;
const seedMutation = `mutation($input: TaskInput!) {
      createTask(input: $input) {
        id, type, status
      }
    }`;
const seedClientQuery = `query {
  tasks(status: "running") {
    id, type, status, priority, created_at, updated_at, worker {
      id, status, available_hardware
    }
  }
}`;

async function main() {
	const intro = await post(getIntrospectionQuery({
		descriptions: true,
		inputValueDeprecation: true,
		specifiedByUrl: true,
		directiveIsRepeatable: true,
		schemaDescription: true,
	}));
	assert.strictEqual(intro.errors, undefined, JSON.stringify(intro.errors));
	const schema = buildClientSchema(intro.data);
	assertValidSchema(schema);
	// What the client rebuilt says the same as what the server sent.
	const again = introspectionFromSchema(schema, {
		inputValueDeprecation: true,
		specifiedByUrl: true,
		directiveIsRepeatable: true,
		schemaDescription: true,
	});
	assert.deepStrictEqual(again.__schema.types.map((t) => t.name).sort(),
		intro.data.__schema.types.map((t) => t.name).sort());
	const sdl = printSchema(schema);
	for (const want of ['input TaskInput', 'type Task', 'createTask(input: TaskInput!): Task',
		'scalar JSON @specifiedBy', 'tasks(', 'first: Int = 100', 'type Mutation']) {
		assert.ok(sdl.includes(want), `the schema lacks "${want}"`);
	}
	assert.strictEqual(schema.description,
		"dtf: the distributed testing framework's coordinator (tasks, runs, workers).");

	// The seed's documents are valid against the schema the server describes.
	for (const doc of [seedTasks, seedTask, seedMutation, seedClientQuery]) {
		const errors = validate(schema, parse(doc));
		assert.deepStrictEqual(errors.map((e) => e.message), [], doc);
	}

	// ... and executing them gives what they ask for.
	const created = await post(seedMutation, {input: {type: 'benchmark', model: 'bert-base-uncased',
		hardware: 'cuda', batch_sizes: [1, 2, 4, 8, 16]}});
	assert.strictEqual(created.errors, undefined, JSON.stringify(created.errors));
	assert.deepStrictEqual(Object.keys(created.data.createTask), ['id', 'type', 'status']);
	assert.strictEqual(created.data.createTask.type, 'benchmark');
	assert.strictEqual(created.data.createTask.status, 'pending');

	const one = await post(seedTask, {id: created.data.createTask.id});
	assert.deepStrictEqual(one, {data: {task: {id: created.data.createTask.id, status: 'pending',
		result: null}}});

	const running = await post(seedTasks);
	assert.strictEqual(running.errors, undefined, JSON.stringify(running.errors));
	assert.strictEqual(running.data.tasks.length, 1, JSON.stringify(running.data));
	const t = running.data.tasks[0];
	assert.strictEqual(t.id, taskId);
	assert.strictEqual(t.status, 'running');
	assert.strictEqual(t.worker.id, 'w1');
	assert.ok(t.worker.available_hardware.includes('cuda'));
	assert.strictEqual(t.result.status, 'running');
	assert.ok(t.result.start_time);

	// What the client's validation refuses, the server refuses with the same messages (less
	// graphql-js's "Did you mean" hints) at the same places.
	const strip = (errors) => errors.map((e) => ({
		message: e.message.replace(/ Did you mean .*$/, ''),
		locations: e.locations,
	}));
	for (const bad of ['{ tasks { id nope } }', '{ task { id } }', '{ tasks(first: "x") { id } }',
		'query($x: Int) { tasks { id } }', '{ tasks { worker } }', 'query { task(id: $x) { id } }',
		'query($x: Int) { task(id: $x) { id } }', '{ a: tasks { id } a: runs { id } }',
		'{ tasks(first: 1) { id } tasks(first: 2) { id } }',
		'mutation { createTask(input: {priority: "x"}) { id } }',
		'mutation { createTask(input: {nope: 1}) { id } }',
		'{ tasks(first: 3000000000) { id } }', '{ tasks { id @skip } }',
		'query @skip(if: true) { tasks { id } }', '{ tasks { ... on Worker { id } } }']) {
		const local = strip(validate(schema, parse(bad)));
		const remote = await post(bad);
		assert.ok(local.length > 0, `graphql-js accepts ${bad}`);
		assert.ok(remote.errors && remote.data === undefined, `the server accepts ${bad}`);
		assert.deepStrictEqual(strip(remote.errors), local, bad);
	}
	console.log('ok: introspection, buildClientSchema, validate and execute the seed documents');
}

main().catch((e) => {
	console.error(e);
	process.exit(1);
});
